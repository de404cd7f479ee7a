"""Methodology, health, readiness and metrics."""

from __future__ import annotations

import datetime as dt
import logging

import orjson
import polars as pl
from fastapi import APIRouter, Request
from starlette.responses import Response

from coinseason.api.deps import NOT_MODIFIED, StateDep, cached
from coinseason.api.gauges import refresh_gauges
from coinseason.api.models import Health, Methodology, Ready
from coinseason.core.panel import DEFAULT_GAP_DAYS
from coinseason.data.classification import load_curated
from coinseason.data.tidy import TokenClass
from coinseason.errors import CoinseasonError, StoreUnavailable
from coinseason.services.analytics import EXCLUSION_RULE, METHODOLOGY_VERSION
from coinseason.services.consensus import (
    CAP_WEIGHTED_METHOD,
    GRID_METHOD,
    MARGIN_METHOD,
    MINIMUM_UNIVERSE_METHOD,
)
from coinseason.services.first_steps import NO_DATA_YET

log = logging.getLogger("coinseason.api")

router = APIRouter(prefix="/v1", tags=["methodology"], responses=NOT_MODIFIED)
health_router = APIRouter(tags=["health"])

DEFINITIONS = {
    "universe": "coins ranked by market cap as of each day, excluded classes removed first, top N kept; BTC "
    "takes one of the N places unless btc_inside=false",
    "fill": "with fill=true (default) the places of coins without W days of history go to the next-ranked coins "
    "that have them; with fill=false they stay empty",
    "altcoin_season_index": "100 × (eligible altcoins whose W-day price return beats BTC's) / (eligible altcoins); "
    "eligible: a price on d and on d − W",
    "bitcoin_season_index": "100 − altcoin_season_index: the share of eligible altcoins that did not beat BTC",
    "beats": "an altcoin beats BTC when its return is greater by more than a relative 1e-12",
    "rounding": "values are exact ratios; value_rounded is floor(value + 0.5)",
    "season": "altcoin season when the index ≥ altcoin_at (75), Bitcoin season when ≤ bitcoin_at (25), neutral between",
    "gaps": f"a missing day is filled from the coin's last observation at most {DEFAULT_GAP_DAYS} days earlier",
    "dominance": "100 × market cap of the coin / TOTAL, TOTAL being the universe's summed market cap; TOTAL2 = "
    "TOTAL − BTC, TOTAL3 = TOTAL − BTC − ETH",
    "exclusions": "stablecoins, wrapped/bridged tokens, liquid-staking derivatives and tokenized assets, decided per "
    "coin from provider categories, the curated list and a price-peg test; " + EXCLUSION_RULE,
    "minimum_universe": MINIMUM_UNIVERSE_METHOD,
    "consensus": GRID_METHOD,
    "margin": MARGIN_METHOD,
    "cap_weighted_index": CAP_WEIGHTED_METHOD,
}


@router.get("/methodology", response_model=Methodology, summary="Definitions, thresholds, exclusion set and members")
def methodology(request: Request, state: StateDep) -> Response:
    def build() -> tuple[bytes, str]:
        members: dict[str, list[dict[str, object]]] = {}
        sources = [s.source for s in state.analytics.sources()]
        for name in sources:
            coins = state.analytics.coins(name, kind="excluded")
            members[name] = coins.select(
                "coin_id",
                "symbol",
                "token_class",
                pl.col("class_basis").alias("basis"),
                pl.col("class_since").alias("since"),
            ).to_dicts()
        body = {
            "methodology_version": METHODOLOGY_VERSION,
            "definitions": DEFINITIONS,
            "thresholds": {"altcoin_season_at": 75.0, "bitcoin_season_at": 25.0},
            "gap_days": DEFAULT_GAP_DAYS,
            "exclusion_list_version": load_curated().version,
            "excluded_classes": [str(c) for c in TokenClass],
            "sources": sources,
            "exclusion_members": members,
        }
        return orjson.dumps(body), "application/json"

    return cached(request, state, build)


@health_router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@health_router.get(
    "/readyz", response_model=Ready, summary="Store reachable and data fresh enough", responses={503: {"model": Ready}}
)
def readyz(state: StateDep) -> Response:
    reasons: list[str] = []
    store_ok = True
    age: float | None = None
    try:
        sources = state.store.sources()
    except CoinseasonError as exc:  # why, in words that name no server: the full error goes to the log
        store_ok = False
        sources = []
        reasons.append(f"store unreachable: {exc.reason if isinstance(exc, StoreUnavailable) else 'see the log'}")
        log.warning("readiness: the store failed: %s", exc)
    jobs = state.job_statuses()
    if store_ok and not sources:
        backfill = jobs.get("backfill") or {}
        if backfill.get("phase") == "backfilling":  # the first run is bringing it: say how far it is
            eta = backfill.get("eta_seconds")
            left = "" if eta is None else f", about {eta} s left"
            reasons.append(
                f"no data yet: backfilling, {backfill['coins_done']} of {backfill['coins_total']} coins{left}"
            )
        else:
            reasons.append(f"no data yet: {NO_DATA_YET}")
    if sources:
        newest = max(s.last_date for s in sources)
        as_of = dt.datetime.combine(newest, dt.time(), dt.UTC)
        age = (state.clock() - as_of).total_seconds() / 3600
        if age > state.settings.api.stale_after_hours:
            reasons.append(f"data is {age:.0f} h old (limit {state.settings.api.stale_after_hours:.0f} h)")
    # a stale ingestion is shown, not a reason to refuse traffic: the data age above decides readiness, and every
    # replica shares the one ingestor's fate (taking them all out would serve nothing)
    ready = Ready(
        status="ready" if not reasons else "not ready", store=store_ok, data_age_hours=age, reasons=reasons, jobs=jobs
    )
    return Response(
        ready.model_dump_json().encode(), status_code=200 if not reasons else 503, media_type="application/json"
    )


@health_router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}}
)
def metrics(state: StateDep) -> Response:
    refresh_gauges(state)
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
