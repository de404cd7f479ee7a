"""The fault suite: real ``coinseason serve`` processes, a private PostgreSQL cluster and a private Redis, and the
faults an operator meets (backends killed, the database refusing connections, Redis restarted, a worker or a
writer killed with ``kill -9``). The quick cases run here; ``bench/faults.py`` runs them under load and prints the
table."""
