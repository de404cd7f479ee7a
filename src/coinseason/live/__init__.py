"""Real-time feed: an exchange's ticker stream → intraday season index and dominance, kept in memory.

``binance`` parses and reads the stream, ``symbols`` maps exchange pairs to coin ids, ``intraday`` keeps the live
prices (carrying the coins without a fresh tick) and computes the index, ``runner`` ties them together with
throttled pushes, ``reference`` keeps each coin's median exchange price as a cross-check source for ingestion, and
``job`` runs it all as a background job of the server, pushing to ``WS /v1/stream``.
"""
