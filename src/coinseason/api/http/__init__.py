"""The HTTP plumbing of the API, under its routes: the front layer (request ids, access log, keys, rate limits,
the hot cache), the response cache and its invalidation, gzip, problem details, the stream hub and the Prometheus
metrics. Nothing here knows the routes or the services behind them."""
