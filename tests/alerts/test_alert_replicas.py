"""Two ``coinseason serve`` replicas on one PostgreSQL store, the lease holder killed (-9) half-way, a receiver that
fails 30 % of the requests: every event is delivered, none is lost, every request is correctly signed; the
duplicates the receiver dropped by event id are reported."""

from __future__ import annotations

from pathlib import Path

from tests.alerts.replicas import lines, run_replicas
from tests.store.postgres_server import fresh_database


def test_two_replicas_deliver_every_event_once_the_receiver_drops_repeats(tmp_path: Path) -> None:
    with fresh_database() as url:
        figures = run_replicas(url, tmp_path, replicas=2, cycles=2, fail_share=0.3)
    print("\n".join(lines(figures)))  # noqa: T201 - the delivery figures, shown with -s
    # 21 season rules; the 12 altcoin ones (levels 50-90) enter and leave in each of 2 cycles: 4 events each
    assert figures.events >= 12 * 4
    assert figures.lost == 0 and figures.dead == 0 and figures.bad_signatures == 0
    assert figures.unique == figures.events
    assert figures.requests == figures.events + figures.failed_answers + figures.duplicates
