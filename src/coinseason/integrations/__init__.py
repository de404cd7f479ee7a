"""Coinseason inside the tools people already run: trading bots (:mod:`coinseason.integrations.freqtrade`)."""
