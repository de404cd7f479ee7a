"""Hysteresis and confirmation of alert rules, on series whose answers were worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from coinseason.core.alerts import ENTERED, LEFT, Band, band_states, band_transitions, reconcile

NAN = float("nan")


def transitions(values: list[float], band: Band) -> list[tuple[int, int]]:
    rows, kinds = band_transitions(np.array(values, dtype=np.float64), band)
    return list(zip(rows.tolist(), kinds.tolist(), strict=True))


def test_a_value_hovering_at_75_does_not_flap() -> None:
    # altcoin season: enter at >= 75 for 3 days, leave below 70 for 3 days
    band = Band(enter=75, leave=70, above=True, confirm=3)
    hovering = [74, 76, 74, 76, 75, 74, 75, 76, 74, 73]
    # runs of days >= 75: (1),(3),(4-ish)... never 3 in a row until days 6,7 (75, 76) -> only 2: never enters
    assert transitions(hovering, band) == []


def test_enters_on_the_third_confirming_day_and_leaves_only_below_the_band() -> None:
    band = Band(enter=75, leave=70, above=True, confirm=3)
    values = [60, 80, 81, 82, 72, 69, 71, 68, 67, 66, 90]
    # days 1,2,3 are >= 75: enters on day 3. Days 4 (72) and 6 (71) sit in the band: they keep the state and
    # break the run of leaving days; 5 (69) is one day below 70; 7, 8, 9 are below 70 three times: leaves on day 9
    assert transitions(values, band) == [(3, ENTERED), (9, LEFT)]
    assert band_states(np.array(values, dtype=np.float64), band).tolist() == [
        False, False, False, True, True, True, True, True, True, False, False,
    ]  # fmt: skip


def test_bitcoin_season_is_the_band_below() -> None:
    band = Band(enter=25, leave=30, above=False, confirm=2)
    values = [40, 25, 20, 28, 31, 29, 35, 36]
    # 25, 20 (days 1-2) at or below 25: enters on day 2; 28 and 29 stay inside the band; 31 (day 4) alone is
    # one day above 30; 35, 36 (days 6-7) two in a row: leaves on day 7
    assert transitions(values, band) == [(2, ENTERED), (7, LEFT)]


def test_one_day_confirmation_without_hysteresis_is_a_plain_crossing() -> None:
    band = Band(enter=60.0, leave=60.0, above=True, confirm=1)
    assert transitions([59.9, 60.0, 59.99, 61], band) == [(1, ENTERED), (2, LEFT), (3, ENTERED)]


def test_a_missing_day_breaks_the_run_and_keeps_the_state() -> None:
    band = Band(enter=75, leave=70, above=True, confirm=2)
    assert transitions([80, NAN, 80, 80, NAN, 10, 10], band) == [(3, ENTERED), (6, LEFT)]


@pytest.mark.parametrize(
    ("enter", "leave", "above", "confirm"),
    [(75, 80, True, 1), (25, 20, False, 1), (75, 70, True, 0), (NAN, 70, True, 1)],
)
def test_a_band_that_makes_no_sense_is_refused(enter: float, leave: float, above: bool, confirm: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Band(enter=enter, leave=leave, above=above, confirm=confirm)


def test_reconcile_announces_the_new_and_withdraws_what_a_revision_took_away() -> None:
    announced = [("2026-01-05", "entered"), ("2026-02-01", "left")]
    derived = [("2026-01-05", "entered"), ("2026-02-02", "left")]  # the leaving day moved by one
    assert reconcile(derived, announced) == ([("2026-02-02", "left")], [("2026-02-01", "left")])
    assert reconcile(announced, announced) == ([], [])
