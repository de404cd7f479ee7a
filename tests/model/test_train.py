"""Training end to end on a small synthetic market: artifacts versioned in the store and reproducible, the model
card, the outlook, and the CLI and API over them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coinseason.api.app import create_app
from coinseason.cli import app
from coinseason.model.config import TrainConfig
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.outlook import OutlookService
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import FIXED_NOW, fixed_clock
from tests.model.synthetic import feature_rows, market_csv, market_prices

DAYS = 420
CONFIG = TrainConfig(
    horizon=10,
    entry_gaps=(3, 5, 10),
    top=10,
    window=30,
    min_train_days=150,
    test_days=60,
    trees=(5, 10),
    min_samples_leaf=10,
    importance_folds=1,
    bootstrap=200,
    selection_bootstrap=200,
)
TRAIN_ARGS = [
    *("--horizon", "10", "--top", "10", "--window", "30", "--min-train-days", "150", "--test-days", "60"),
    *("--entry-gaps", "3,5,10", "--trees", "5,10"),
]
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("model")
    path = root / "s.duckdb"
    store = DuckDBStore(path)
    ImportService(store, clock=fixed_clock).import_file(
        market_csv(root / "m.csv", market_prices(DAYS)), FileFormat.TIDY
    )
    store.write_features(feature_rows(DAYS))
    store.close()
    yield str(path)


def ticking() -> Iterator[dt.datetime]:
    moment = FIXED_NOW
    while True:
        yield moment
        moment += dt.timedelta(seconds=1)


def test_train_is_reproducible_and_versioned(db: str, tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "copy.duckdb")
    source = DuckDBStore(db)
    try:
        clock = ticking()
        ImportService(store, clock=fixed_clock).import_file(
            market_csv(tmp_path / "m.csv", market_prices(DAYS)), FileFormat.TIDY
        )
        store.write_features(source.features())
        first = OutlookService(store, clock=lambda: next(clock)).train(CONFIG, card_dir=tmp_path / "card")
        second = OutlookService(store, clock=lambda: next(clock)).train(CONFIG)
    finally:
        source.close()
    assert first.artifact.version != second.artifact.version
    assert first.artifact.meta["sha256_12"] == second.artifact.meta["sha256_12"]  # same data, same seed
    assert first.artifact.payload == second.artifact.payload
    newest = store.model()
    assert newest is not None and newest.version == second.artifact.version
    meta = first.artifact.meta
    assert meta["validation"]["purge_days"] == 10 and meta["validation"]["embargo_days"] == 10
    last_label = dt.date.fromisoformat(meta["training_window"]["end"])
    assert last_label <= dt.date(2020, 1, 1) + dt.timedelta(days=DAYS - 1 - 10)
    oos = meta["out_of_sample"]["altcoin_season_entry"]
    assert {"persistence", "climatology", "logistic", "gbm_asi", "gbm_engine", "gbm_all", "served"} <= set(
        oos["models"]
    )
    assert oos["models"]["persistence"]["auc"] == 0.5 or oos["models"]["persistence"]["auc"] is None
    assert oos["served"] in oos["models"] and oos["entry_gap"] in (3, 5, 10) and isinstance(oos["skill"], bool)
    for row in oos["models"].values():  # every figure with its event-bootstrap interval
        assert row["auc_ci"] is None or len(row["auc_ci"]) == 2
    assert [d["against"] for d in oos["baselines"]] == ["logistic"] * len(oos["baselines"])
    assert oos["ablation"] and oos["ablation"][0]["against"] == "gbm_engine"
    card = first.card
    assert card is not None and card.is_file()
    text = card.read_text()
    assert "Brier" in text and "walk-forward" in text.lower()
    assert "Ablation" in text and "95 % CI" in text and "**Served:" in text and "Nested choices" in text
    assert "Permutation null and leak canary: not run" in text
    # headline labels debounced, with their quick re-entries counted
    assert "Re-entries: of" in text
    for target in ("altcoin_season_entry", "bitcoin_season_entry"):
        re = meta["out_of_sample"][target]["reentries"]
        assert re["counted_entries"] <= re["raw_entries"]
        assert re["within_3_days"] <= re["within_10_days"] <= re["within_30_days"] <= re["raw_entries"]
    assert (card.parent / "reliability_altcoin_season_entry.png").stat().st_size > 1000
    outlook = OutlookService(store).outlook()
    store.close()
    assert outlook["model_version"] == second.artifact.version
    assert outlook["date"] == str(dt.date(2020, 1, 1) + dt.timedelta(days=DAYS - 1))
    assert [t["target"] for t in outlook["transitions"]] == [
        "altcoin_season_entry",
        "bitcoin_season_entry",
        "dominance_move",
    ]
    for t in outlook["transitions"]:
        assert t["probability"] is None if not t["possible"] else 0.0 <= t["probability"] <= 1.0
        assert len(t["top_features"]) <= 5
        assert {f["feature"] for f in t["top_features"]} <= set(meta["features"])


def test_cli_and_api(db: str, tmp_path: Path) -> None:
    empty = str(tmp_path / "empty.duckdb")
    result = runner.invoke(app, ["outlook", "--db", empty])
    assert result.exit_code == 2
    assert "no trained model" in result.output or "store" in result.output

    fng = tmp_path / "fng.csv"
    fng.write_text("date,fng_value,fng_classification\n2021-03-01,55,Greed\n")
    result = runner.invoke(app, ["features", "import", str(fng), "--format", "fear-greed", "--db", db])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output

    result = runner.invoke(
        app,
        ["model", "train", *TRAIN_ARGS, "--check", "--null-runs", "2", "--card", str(tmp_path / "card"), "--db", db],
    )
    assert result.exit_code == 0, result.output
    assert "stored" in result.output and (tmp_path / "card" / "model_card.md").is_file()
    assert "null: mean AUC" in result.output and "canary AUC" in result.output
    card = (tmp_path / "card" / "model_card.md").read_text()
    assert "**Permutation null**" in card and "**Leak canary**" in card
    result = runner.invoke(app, ["outlook", "--format", "json", "--db", db])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)  # stderr may say the data is stale
    assert body["horizon_days"] == 10

    result = runner.invoke(app, ["model", "train", "--horizon", "10", "--embargo", "5", "--db", db])
    assert result.exit_code == 2 and "embargo" in result.output

    with TestClient(create_app(Settings(db=db), clock=fixed_clock)) as client:
        got = client.get("/v1/outlook")
        assert got.status_code == 200, got.text
        assert got.json()["model_version"] == body["model_version"]
        sentiment = client.get("/v1/sentiment", params={"from": "2021-03-01", "to": "2021-03-02"})
        assert sentiment.status_code == 200
        assert sentiment.json()["values"][0]["values"]["fng.value"] == 55.0
        corr = client.get("/v1/correlations", params={"with": "sp500", "window": 30})
        assert corr.status_code == 200
        values = [v["value"] for v in corr.json()["values"] if v["value"] is not None]
        assert values and all(-1.0 <= v <= 1.0 for v in values)
        assert client.get("/v1/onchain").status_code == 404  # no on-chain data in this store
        assert client.get("/v1/correlations", params={"with": "tarot"}).status_code == 422
