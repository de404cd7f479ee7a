"""Alert delivery figures: two ``coinseason serve`` replicas on one PostgreSQL store send the events of 21 season
rules to a local receiver that fails 30 % of the requests (503), and the replica holding the alerts lease is killed
(-9) once a third of the events arrived.

Printed: events raised, delivery attempts and retries, requests the receiver got, events it took, the duplicates it
dropped by event id (at-least-once: a replica killed after the send and before recording it sends again), bad
signatures, dead letters and events lost (targets: 0), and the seconds from start to the last delivery.

    python bench/alerts.py [--replicas 2] [--cycles 3] [--fail-share 0.3] [--seed 7]

Needs PostgreSQL at 127.0.0.1:5432 (or ``COINSEASON_TEST_POSTGRES``); a throw-away database is made and dropped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from report import Figure, Report, section  # bench/report.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the market, receiver and scenario live with the tests; the bench reuses them

from tests.alerts.replicas import run_replicas  # noqa: E402
from tests.store.postgres_server import fresh_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=3, help="season cycles imported (2 events per rule each)")
    parser.add_argument("--fail-share", type=float, default=0.3, help="share of requests the receiver fails")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    report = Report()
    section(
        f"alerts: {args.replicas} replicas on PostgreSQL, receiver failing {args.fail_share:.0%}, lease holder killed"
    )
    with tempfile.TemporaryDirectory() as root, fresh_database() as url:
        f = run_replicas(
            url, Path(root), replicas=args.replicas, cycles=args.cycles, fail_share=args.fail_share, seed=args.seed
        )
    report.note(f.killed)
    report.add(Figure("rules", f.rules, ""))
    report.add(Figure("events raised", f.events, ""))
    report.add(Figure("delivery attempts", f.attempts, ""))
    report.add(Figure("retries (attempts after an event's first)", f.retries, ""))
    report.add(Figure("requests the receiver got", f.requests, ""))
    report.add(Figure("requests failed on purpose (503)", f.failed_answers, ""))
    report.add(Figure("events the receiver took", f.unique, "", limit=f.events, at_least=True))
    report.add(Figure("duplicates the receiver dropped by event id", f.duplicates, ""))
    report.add(Figure("bad signatures", f.bad_signatures, "", limit=0))
    report.add(Figure("dead letters", f.dead, "", limit=0))
    report.add(Figure("events lost", f.lost, "", limit=0))
    report.add(Figure("start to last delivery (incl. imports and starts)", f.seconds, "s"))
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
