"""Settings: nested by concern, each field read from its one ``COINSEASON_*`` variable, secrets hidden, validated
once, handed to worker processes whole."""

from __future__ import annotations

import pytest

from coinseason.errors import ConfigError
from coinseason.settings import Settings

ENVIRONMENT = {
    "COINSEASON_DB": "postgresql://coinseason@db.example/coinseason",
    "COINSEASON_PORT": "9001",
    "COINSEASON_WORKERS": "3",
    "COINSEASON_ALLOW_ANONYMOUS": "false",
    "COINSEASON_LOG_LEVEL": "DEBUG",
    "COINSEASON_LOG_JSON": "false",
    "COINSEASON_INGEST": "false",
    "COINSEASON_INGEST_PROVIDER": "cmc",
    "COINSEASON_INGEST_CROSS_CHECK": '["coingecko"]',
    "COINSEASON_INGEST_TOP": "250",
    "COINSEASON_COINGECKO_PLAN": "demo",
    "COINSEASON_COINGECKO_API_KEY": "cg-secret-value",
    "COINSEASON_CMC_API_KEY": "cmc-secret-value",
    "COINSEASON_PROVIDER_TIMEOUT_SECONDS": "4.5",
    "COINSEASON_LIVE": "true",
    "COINSEASON_EXCHANGE_WS_URL": "ws://127.0.0.1:1/ws",
    "COINSEASON_LIVE_PUSH_SECONDS": "2",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("environment")
def test_every_variable_lands_in_its_concern() -> None:
    settings = Settings.from_env()
    assert settings.db == "postgresql://coinseason@db.example/coinseason"
    assert (settings.api.port, settings.api.workers, settings.api.allow_anonymous) == (9001, 3, False)
    assert (settings.log.level, settings.log.json_lines) == ("DEBUG", False)
    assert (settings.ingest.run, settings.ingest.provider, settings.ingest.top) == (False, "cmc", 250)
    assert settings.ingest.cross_check == ["coingecko"]
    assert settings.coingecko.plan == "demo"
    assert settings.coingecko.timeout_seconds == settings.cmc.timeout_seconds == 4.5
    assert (settings.live.run, settings.live.exchange_ws_url, settings.live.push_seconds) == (
        True,
        "ws://127.0.0.1:1/ws",
        2.0,
    )


@pytest.mark.usefixtures("environment")
def test_secrets_never_show_but_reach_their_user() -> None:
    settings = Settings.from_env()
    shown = f"{settings!r} {settings} {settings.model_dump_json()}"
    assert "cg-secret-value" not in shown and "cmc-secret-value" not in shown
    assert settings.coingecko.api_key is not None
    assert settings.coingecko.api_key.get_secret_value() == "cg-secret-value"


@pytest.mark.usefixtures("environment")
def test_options_win_over_the_environment() -> None:
    settings = Settings.from_env(db="postgresql://other/db", api={"port": 8123}, live={"run": False})
    assert settings.db == "postgresql://other/db"
    assert settings.api.port == 8123
    assert settings.api.workers == 3  # the rest of the concern still comes from the environment
    assert settings.live.run is False and settings.live.push_seconds == 2.0


@pytest.mark.usefixtures("environment")
def test_the_handoff_carries_every_value_and_secret_and_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    text = settings.to_handoff()
    monkeypatch.setenv("COINSEASON_PORT", "1")
    monkeypatch.setenv("COINSEASON_CMC_API_KEY", "changed-later")
    again = Settings.from_handoff(text)
    assert again == settings
    assert again.api.port == 9001
    assert again.cmc.api_key is not None and again.cmc.api_key.get_secret_value() == "cmc-secret-value"


def test_several_workers_need_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COINSEASON_DB", raising=False)
    with pytest.raises(ConfigError, match="several workers need a PostgreSQL store"):
        Settings.from_env(db="/tmp/one-writer.duckdb", api={"workers": 2})  # noqa: S108 (never opened)
    assert Settings.from_env(db="postgresql://x@127.0.0.1/y", api={"workers": 2}).api.workers == 2


def test_a_wrong_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINSEASON_INGEST_TOP", "many")
    with pytest.raises(ConfigError, match="^COINSEASON_INGEST_TOP: Input should be a valid integer"):
        Settings.from_env()
    monkeypatch.delenv("COINSEASON_INGEST_TOP")
    with pytest.raises(ConfigError, match="^COINSEASON_LIVE: Input should be a valid boolean"):
        Settings.from_env(live={"run": "perhaps"})


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        Settings(port=8000)  # type: ignore[call-arg]


def test_the_services_default_minimum_universe_is_the_settings_default() -> None:
    """The analytics service reads ``COINSEASON_SEASON_MIN_ELIGIBLE`` only when it is set (pydantic stays off a
    warm CLI query); unset, its own default must be the setting's."""
    from coinseason.services.analytics import DEFAULT_MIN_ELIGIBLE
    from coinseason.settings import SeasonSettings

    assert SeasonSettings.model_fields["min_eligible"].default == DEFAULT_MIN_ELIGIBLE
