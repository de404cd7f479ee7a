"""The live tick gate: a bad print (1000×, 1/1000×, zero) never reaches the intraday index or the exchange
reference; a move the coin's other quotes confirm, or a level that holds, does."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from coinseason.live.binance import Ticker, parse_frame
from coinseason.live.intraday import HOLD_TICKS
from coinseason.live.reference import ExchangeReference
from coinseason.live.symbols import build_symbol_map
from tests.conftest import shared_file
from tests.fakes.ws_replay import RECORDED_FRAME
from tests.live.test_live_board import TOTAL, board


@pytest.fixture(scope="module")
def recorded() -> list[Ticker]:
    return parse_frame(shared_file(RECORDED_FRAME).read_bytes())


def _xlm(recorded: list[Ticker], factor: float, symbol: str = "XLMUSDT") -> Ticker:
    xlm = next(t for t in recorded if t.symbol == "XLMUSDT")
    return dataclasses.replace(xlm, symbol=symbol, price=xlm.price * factor, event_ms=xlm.event_ms + 1)


@pytest.mark.parametrize("factor", [1000.0, 0.001, 0.0])
def test_a_bad_tick_leaves_the_snapshot_unchanged(recorded: list[Ticker], factor: float) -> None:
    b = board(top=6)
    b.apply(recorded, now=100.0)
    before = b.snapshot(now=100.0)
    assert b.apply([_xlm(recorded, factor)], now=101.0) == 0
    after = b.snapshot(now=101.0)
    assert b.dropped == 1
    # hand-computed on the recorded frame (test_live_board): ASI 40, BTC dominance 367.9 bn / TOTAL = 62.41 %
    assert after.index.value == pytest.approx(40.0) == before.index.value
    assert after.index.btc_dominance == pytest.approx(100 * 367_912_678_000 / TOTAL)
    assert after.index.total == pytest.approx(TOTAL)


def test_a_bad_first_tick_is_checked_against_the_carried_price(recorded: list[Ticker]) -> None:
    b = board(top=6)
    b._carry_price[b.coin_ids.index("stellar")] = 0.1128  # the daily value before any tick
    assert b.apply([_xlm(recorded, 1000.0)], now=1.0) == 0
    assert b.apply([_xlm(recorded, 1.5)], now=1.0) == 1


def test_a_level_that_holds_is_a_real_move(recorded: list[Ticker]) -> None:
    b = board(top=6)
    b.apply(recorded, now=100.0)
    applied = [b.apply([_xlm(recorded, 20.0)], now=100.0 + i) for i in range(HOLD_TICKS)]
    assert applied == [0] * (HOLD_TICKS - 1) + [1]
    stellar = b.coin_ids.index("stellar")
    assert b._price[stellar] == pytest.approx(0.1128 * 20)


def test_the_exchange_median_confirms_a_real_move(recorded: list[Ticker]) -> None:
    b = board(top=6)
    ref = ExchangeReference(b.symbols)
    b.apply(recorded, now=100.0)
    ref.apply(recorded, now=100.0)
    # the coin's other quote moved 20× first: the USDT tick that follows is a real move
    assert ref.apply([_xlm(recorded, 20.0, "XLMFDUSD")], now=101.0) == 1
    assert b.apply([_xlm(recorded, 20.0)], now=101.0, reference=ref) == 1
    # one quote alone at 1000× is dropped by the reference too: its median stays the USDT and FDUSD prices
    assert ref.apply([_xlm(recorded, 20_000.0, "XLMUSDC")], now=101.0) == 1  # first USDC print: nothing to check
    assert ref.apply([_xlm(recorded, 20_000.0 * 1000, "XLMUSDC")], now=102.0) == 0
    assert ref.dropped == 1


def test_the_reference_drops_a_bad_print_of_a_pair() -> None:
    symbols = build_symbol_map(pl.DataFrame({"coin_id": ["stellar"], "symbol": ["xlm"]}))
    ref = ExchangeReference(symbols)
    ref.apply([Ticker("XLMUSDT", 0.1128, 1), Ticker("XLMFDUSD", 0.113, 1)], now=1.0)
    assert ref.apply([Ticker("XLMUSDT", 112.8, 2)], now=2.0) == 0
    assert ref.prices(now=2.0)["price"].to_list() == [pytest.approx((0.1128 + 0.113) / 2)]
