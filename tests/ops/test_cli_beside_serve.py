"""Every CLI command beside a running ``coinseason serve`` on the embedded store, all real processes: keys made,
listed and revoked (a revoked key refused within 5 s), an import served within 10 s, reads, two imports at once,
and a writer that finds the file held too long naming the process that holds it.

Waits for the server are bounded polls with the issue's bounds (5 s, 10 s); no assertion on how long anything took.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from coinseason.store import DuckDBStore
from tests.api.serve_helpers import Server, clean_env, coinseason, serve
from tests.conftest import small_market_csv
from tests.fakes.provider_server import fake_provider
from tests.services.test_ingestion import served_data

Q = {"top": 3, "window": 2}
REVOKED_WITHIN = 5.0
SERVED_WITHIN = 10.0


@dataclass(frozen=True)
class Served:
    server: Server
    db: str
    key: str
    root: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"X-API-Key": key or self.key}, timeout=10.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``coinseason serve`` on a DuckDB file (anonymous reads off), started before any key exists."""
    root = tmp_path_factory.mktemp("beside")
    db = str(root / "store.duckdb")
    args = ["--db", db, "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env={"COINSEASON_ALLOW_ANONYMOUS": "false"}) as server:
        made = coinseason("keys", "create", "--name", "reader", "--db", db)  # beside the running server
        assert made.returncode == 0, made.stderr
        yield Served(server=server, db=db, key=made.stdout.strip(), root=root)


def day_file(path: Path, day: str, i: int, *, coins: tuple[str, ...] = ("bitcoin", "fast", "slow", "tether")) -> Path:
    """One day of the small market (day index ``i``), the way the next daily file would bring it."""
    rows = {
        "bitcoin": f"bitcoin,btc,Bitcoin,{day},{100 * 1.1**i},{1e9 * 1.1**i}",
        "fast": f"fast,fst,Fast,{day},{10 * 1.2**i},{1e8 * 1.2**i}",
        "slow": f"slow,slw,Slow,{day},10.0,1e8",
        "tether": f"tether,usdt,Tether,{day},1.0,9e8",
    }
    path.write_text("coin_id,symbol,name,date,price,market_cap\n" + "\n".join(rows[c] for c in coins) + "\n")
    return path


def within(seconds: float, check: Callable[[], bool]) -> bool:
    """Whether ``check()`` came true within ``seconds`` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_a_key_made_beside_the_server_works_and_a_revoked_one_is_refused_within_5_s(served: Served) -> None:
    made = coinseason("keys", "create", "--name", "leaked", "--db", served.db)
    assert made.returncode == 0, made.stderr
    leaked = made.stdout.strip()
    with served.client(leaked) as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200  # the server knows it at once
        listed = coinseason("keys", "list", "--db", served.db)
        assert listed.returncode == 0, listed.stderr
        prefix = leaked.split("_")[1]
        assert prefix in listed.stdout and "leaked" in listed.stdout
        assert client.get("/v1/season/latest", params=Q).status_code == 200  # verified: now cached by the server
        revoked = coinseason("keys", "revoke", prefix, "--db", served.db)
        assert revoked.returncode == 0, revoked.stderr
        refused = within(REVOKED_WITHIN, lambda: client.get("/v1/season/latest", params=Q).status_code == 401)
    assert refused, f"the server still took the revoked key {REVOKED_WITHIN:g} s later:\n{served.server.output()}"
    with served.client() as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200  # the other key still works


def test_an_import_beside_the_server_is_served_within_10_s(served: Served) -> None:
    with served.client() as client:
        before = client.get("/v1/dominance/latest")
        assert before.status_code == 200 and before.json()["date"] == "2024-01-10"
        done = coinseason("import", str(day_file(served.root / "d11.csv", "2024-01-11", 10)), "--format", "tidy",
                          "--db", served.db)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "4 added" in done.stdout, done.stdout
        seen = within(SERVED_WITHIN, lambda: client.get("/v1/dominance/latest").json()["date"] == "2024-01-11")
        assert seen, f"the new day was not served within {SERVED_WITHIN:g} s:\n{served.server.output()}"
        after = client.get("/v1/dominance/latest")
        assert after.headers["etag"] != before.headers["etag"]
        # BTC 1e9 × 1.1^10 of TOTAL = BTC + fast 1e8 × 1.2^10 + slow 1e8 (tether excluded)
        btc, total = 1e9 * 1.1**10, 1e9 * 1.1**10 + 1e8 * 1.2**10 + 1e8
        assert after.json()["btc_dominance"] == pytest.approx(100 * btc / total)


def test_reads_beside_the_server(served: Served) -> None:
    for args in (
        ["index", "altseason", "--top", "3", "--window", "2", "--format", "csv"],
        ["index", "dominance", "--format", "csv"],
        ["seasons", "--top", "3", "--window", "2"],
        ["coins"],
    ):
        done = coinseason(*args, "--db", served.db)
        assert done.returncode == 0, f"{args}: {done.stderr}"
        assert done.stdout.strip(), args
    csv = coinseason("index", "dominance", "--format", "csv", "--db", served.db).stdout
    assert csv.startswith("date,value") and "2024-01-03" in csv
    with served.client() as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200  # and the server still serves


def test_two_imports_at_once_beside_the_server_lose_nothing(served: Served) -> None:
    """Two imports started together: both land (one waits for the other) or one says clearly that the file was
    busy; the file stays a sound store, nothing stored before is lost."""
    before = DuckDBStore(served.db)
    rows_before = before.sources()[0].rows
    imports_before = before.imports().height
    files = [
        day_file(served.root / "d12.csv", "2024-01-12", 11, coins=("bitcoin", "fast")),
        day_file(served.root / "d13.csv", "2024-01-13", 12, coins=("slow", "tether")),
    ]
    command = [sys.executable, "-m", "coinseason", "import"]
    running = [
        subprocess.Popen(  # noqa: S603 - our own CLI
            [*command, str(f), "--format", "tidy", "--db", served.db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for f in files
    ]
    results = [(p.wait(120), *p.communicate()) for p in running]
    landed = [code == 0 for code, _, _ in results]
    for code, _, stderr in results:
        assert code == 0 or ("busy" in stderr and "holds it" in stderr), stderr
    assert any(landed)
    after = DuckDBStore(served.db)
    assert after.imports().height == imports_before + sum(landed)
    assert after.sources()[0].rows == rows_before + 2 * sum(landed)
    after.let_go()
    with duckdb.connect(served.db, read_only=True) as con:  # a sound file: every table reads to the end
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            con.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - names from the catalog
    with served.client() as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_writer_that_finds_the_file_held_waits_then_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    made = coinseason("import", str(small_market_csv(tmp_path / "m.csv")), "--format", "tidy", "--db", str(db))
    assert made.returncode == 0, made.stderr
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter: another program holding the file
        [sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        refused = coinseason("keys", "create", "--name", "x", "--db", f"duckdb://{db}?busy_timeout=1")
        imported = coinseason("import", str(day_file(tmp_path / "d.csv", "2024-01-11", 10)), "--format", "tidy",
                              "--db", f"duckdb://{db}?busy_timeout=1")  # fmt: skip
    finally:
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
        holder.wait(30)
    for done in (refused, imported):
        assert done.returncode == 2, done.stdout
        assert f"process {holder.pid} (" in done.stderr and "busy" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    store = DuckDBStore(db)
    assert store.imports().height == 1 and store.api_keys() == []  # nothing written, nothing lost
    assert store.sources()[0].last_date.isoformat() == "2024-01-10"


def test_the_cli_beside_a_server_whose_ingestion_loop_writes_every_few_seconds(tmp_path: Path) -> None:
    """``serve`` with its snapshot loop (the local fake CoinGecko, a snapshot every 3 s) writing the same file: keys,
    an import and reads from the CLI all work, the import is served within 10 s, and the loop goes on landing."""

    db = str(tmp_path / "ingesting.duckdb")
    args = ["--db", db, "--import", str(small_market_csv(tmp_path / "m.csv")), "--format", "tidy"]
    with fake_provider(served_data(), stamp_now=True) as fake:
        env = {
            "COINSEASON_INGEST_PROVIDER": "coingecko",
            "COINSEASON_INGEST_TOP": "5",
            "COINSEASON_INGEST_INTERVAL_MINUTES": "0.05",
            "COINSEASON_COINGECKO_URL": fake.coingecko_url,
            "COINSEASON_COINGECKO_PLAN": "pro",
            "COINSEASON_COINGECKO_API_KEY": "test-key",
        }
        with serve(args, log=tmp_path / "server.log", env=env) as server, httpx.Client(timeout=10.0) as client:

            def snapshots() -> int:
                return int(DuckDBStore(db).imports()["format"].str.starts_with("provider-").sum())

            assert within(60.0, lambda: snapshots() >= 2), f"the loop landed nothing:\n{server.output()}"
            made = coinseason("keys", "create", "--name", "ops", "--db", db)
            assert made.returncode == 0, made.stderr
            key = {"X-API-Key": made.stdout.strip()}
            tidy = {"source": "custom", **Q}
            assert client.get(f"{server.url}/v1/season/latest", params=tidy, headers=key).status_code == 200
            done = coinseason("import", str(day_file(tmp_path / "d11.csv", "2024-01-11", 10)), "--format", "tidy",
                              "--db", db)  # fmt: skip
            assert done.returncode == 0, done.stderr

            def served_new_day() -> bool:
                answer = client.get(f"{server.url}/v1/dominance/latest", params={"source": "custom"})
                return answer.status_code == 200 and answer.json()["date"] == "2024-01-11"

            assert within(SERVED_WITHIN, served_new_day), f"not served within 10 s:\n{server.output()}"
            reads = (["index", "altseason", "--source", "custom", "--top", "3", "--window", "2"], ["keys", "list"])
            for command in reads:
                read = coinseason(*command, "--db", db)
                assert read.returncode == 0, read.stderr
            landed = snapshots()
            assert within(60.0, lambda: snapshots() > landed), f"the loop stopped landing:\n{server.output()}"
            assert "Traceback" not in server.output()
