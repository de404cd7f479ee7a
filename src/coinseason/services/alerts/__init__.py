"""Alerts: rules per API key evaluated when data lands, and their events delivered by signed webhooks from an
outbox in the store (:mod:`.evaluate`, :mod:`.outbox`, :mod:`.delivery`, :mod:`.ssrf`, :mod:`.signing`); the
background job that runs both in ``serve`` is :mod:`.job`."""
