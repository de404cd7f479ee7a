"""The README's tables of settings and provider plans are the ones the code renders: a setting added, renamed or
described anew without regenerating them (``python -m coinseason.services.settings_docs README.md``) fails here."""

from __future__ import annotations

from pathlib import Path

from coinseason.services.settings_docs import main, plans_table, rendered, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_tables_are_the_generated_ones() -> None:
    text = README.read_text(encoding="utf-8")
    assert rendered(text) == text, (
        "README tables are out of date: python -m coinseason.services.settings_docs README.md"
    )


def test_the_settings_table_names_each_variable_once_with_its_description() -> None:
    rows = settings_table().splitlines()[2:]
    variables = [row.split("|")[1].strip() for row in rows]
    assert len(variables) == len(set(variables))
    for expected in ("`COINSEASON_DB`", "`COINSEASON_INGEST_BACKFILL`", "`COINSEASON_PROVIDER_TIMEOUT_SECONDS`"):
        assert expected in variables
    backfill = next(r for r in rows if "`COINSEASON_INGEST_BACKFILL`" in r)
    assert "| bool | true | serve first backfills what the store lacks" in backfill


def test_the_plans_table_gives_each_plans_reach_and_backfill_time() -> None:
    table = plans_table()
    # keyless: 2 pages of 250 + /global + 6 categories (the snapshot), 2 pages + 500 histories = 511 calls, 10 a minute
    assert "| coingecko | `keyless` | 10 | 365 days | 511 calls, about 51 min |" in table
    assert "| coingecko | `pro` | 500 | all (from 2013) | 511 calls, about 61 s |" in table
    # CoinMarketCap: one page of 5000 + /global (the snapshot), one page + 500 histories = 503 calls, 60 a minute
    assert "| cmc | `standard` | 60 | 1825 days | 503 calls, about 8 min |" in table
    assert "| cmc | `basic` | 30 | none (daily snapshots from today) | – |" in table


def test_check_fails_on_a_stale_readme(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(README.read_text(encoding="utf-8").replace("`COINSEASON_INGEST_BACKFILL`", "`COINSEASON_X`"))
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert main([str(stale), "--check"]) == 0
