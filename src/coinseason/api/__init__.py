"""The HTTP API: create_app(settings), routes, and the components it is built from."""
