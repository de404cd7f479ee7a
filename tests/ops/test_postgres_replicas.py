"""On PostgreSQL, a write from outside the servers reaches every running one: a real ``coinseason import`` into the
database two real ``coinseason serve`` processes read (no Redis: only the store tells them), served by both within
10 s, with the new ETag and the stream push."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
from websockets.sync.client import connect

from tests.api.serve_helpers import coinseason, serve
from tests.conftest import small_market_csv
from tests.ops.test_cli_beside_serve import SERVED_WITHIN, day_file, within
from tests.store.postgres_server import fresh_database


def test_a_cli_import_reaches_two_running_servers_within_10_s(tmp_path: Path) -> None:
    with fresh_database() as url, ExitStack() as stack:
        first = coinseason("import", str(small_market_csv(tmp_path / "m.csv")), "--format", "tidy", "--db", url)
        assert first.returncode == 0, first.stderr
        servers = [stack.enter_context(serve(["--db", url], log=tmp_path / f"replica{i}.log")) for i in range(2)]
        clients = [stack.enter_context(httpx.Client(base_url=s.url, timeout=10.0)) for s in servers]
        before = [c.get("/v1/dominance/latest") for c in clients]
        assert [b.json()["date"] for b in before] == ["2024-01-10"] * 2
        pushes = stack.enter_context(connect(f"{servers[1].ws_url}/v1/stream"))
        pushes.send('{"subscribe": ["dominance"]}')
        pushes.recv(timeout=10)
        done = coinseason("import", str(day_file(tmp_path / "d11.csv", "2024-01-11", 10)), "--format", "tidy",
                          "--db", url)  # fmt: skip
        assert done.returncode == 0, done.stderr

        def both_serve_it() -> bool:
            return all(c.get("/v1/dominance/latest").json()["date"] == "2024-01-11" for c in clients)

        served = within(SERVED_WITHIN, both_serve_it)
        assert served, "\n".join(["not served by both within 10 s:", *(s.output() for s in servers)])
        after = [c.get("/v1/dominance/latest") for c in clients]
        assert after[0].json() == after[1].json()
        assert all(a.headers["etag"] != b.headers["etag"] for a, b in zip(after, before, strict=True))
        pushed = orjson.loads(pushes.recv(timeout=SERVED_WITHIN))  # the first push after subscribing: the new day
        assert pushed["topic"] == "dominance" and pushed["data"] == after[1].json()
