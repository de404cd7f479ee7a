from coinseason.cli import main

main()
