"""Exchange pairs to coin ids: quotes, fiat bases, overrides, and ambiguous symbols skipped."""

from __future__ import annotations

import polars as pl

from coinseason.live.symbols import build_symbol_map
from tests.conftest import DATA_DIR, shared_file
from tests.fakes.ws_replay import RECORDED_FRAME, recorded_frame

COINS = pl.DataFrame(
    {
        "coin_id": [
            "bitcoin",
            "osmosis-allbtc",
            "ethereum",
            "solana",
            "wrapped-solana",
            "aethir",
            "athenadao-token",
            "vaiot",
            "vai",
            "holotoken",
            "tether",
            "binance-usd",
            "euro-coin",
        ],
        "symbol": ["btc", "btc", "eth", "sol", "sol", "ath", "ath", "vai", "vai", "hot", "usdt", "busd", "eurc"],
        "token_class": [
            None,
            "wrapped",
            None,
            None,
            "wrapped",
            None,
            None,
            None,
            None,
            None,
            "stablecoin",
            "stablecoin",
            "stablecoin",
        ],
    }
)


def test_pairs_in_usd_stablecoins_map_to_coins() -> None:
    m = build_symbol_map(COINS)
    assert m.resolve("BTCUSDT") == ("bitcoin", 0)
    assert m.resolve("BTCFDUSD") == ("bitcoin", 1)
    assert m.resolve("BTCUSDC") == ("bitcoin", 2)
    assert m.resolve("HOTUSDT") == ("holotoken", 0)  # one coin has the symbol
    assert m.resolve("USDTUSDC") == ("tether", 2)


def test_other_quotes_and_fiat_do_not_count() -> None:
    m = build_symbol_map(COINS)
    for pair in ("ETHBTC", "BTCBUSD", "BTCTRY", "BTCBRL", "USDTTRY", "EURUSDT", "GBPUSDT", "USDT", "NOPEUSDT"):
        assert m.resolve(pair) is None, pair


def test_shared_symbols_resolved_only_by_rule_or_override() -> None:
    m = build_symbol_map(COINS)
    assert m.resolve("SOLUSDT") == ("solana", 0)  # the one candidate without a token class
    assert m.resolve("ATHUSDT") == ("aethir", 0)  # curated override
    assert m.resolve("VAIUSDT") is None  # two unclassed coins: skipped, not guessed
    assert m.ambiguous["VAI"] == ("vai", "vaiot")
    no_override = build_symbol_map(COINS, overrides={})
    assert no_override.resolve("ATHUSDT") is None
    assert no_override.resolve("BTCUSDT") == ("bitcoin", 0)  # the wrapped copy does not compete


def test_override_to_a_coin_the_source_lacks_is_not_used() -> None:
    m = build_symbol_map(COINS, overrides={"VAI": "not-in-source"})
    assert m.resolve("VAIUSDT") is None


def test_the_recorded_frame_maps_its_usdt_coins() -> None:
    shared_file(RECORDED_FRAME)
    coins = pl.DataFrame({"coin_id": ["bitcoin", "ethereum", "binance-usd"], "symbol": ["btc", "eth", "busd"]})
    m = build_symbol_map(coins)
    mapped = {t["s"]: m.resolve(t["s"]) for t in recorded_frame() if m.resolve(t["s"]) is not None}
    # BUSDUSDT is BUSD priced in USDT; ETHBTC, BTCBUSD, ETHBUSD, BTCBRL are in other quotes
    assert mapped == {"BTCUSDT": ("bitcoin", 0), "ETHUSDT": ("ethereum", 0), "BUSDUSDT": ("binance-usd", 0)}


def test_the_recorded_frame_against_the_real_coingecko_coins() -> None:
    path = shared_file(DATA_DIR / "coingecko" / "coin_classification.csv")
    coins = pl.read_csv(path, columns=["coin_id", "symbol", "exclusion_class"]).rename(
        {"exclusion_class": "token_class"}
    )
    shared_file(RECORDED_FRAME)
    m = build_symbol_map(coins)
    got = {t["s"]: hit[0] for t in recorded_frame() if (hit := m.resolve(t["s"])) is not None}
    # every USDT pair of the frame whose base CoinGecko lists, with the coin Binance trades under that ticker
    # (ETH, SOL and BUSD are shared symbols: ETH and SOL by the native-coin rule or override, BUSD by override)
    assert got == {
        "BTCUSDT": "bitcoin",
        "ETHUSDT": "ethereum",
        "BNBUSDT": "binancecoin",
        "XLMUSDT": "stellar",
        "TRXUSDT": "tron",
        "HOTUSDT": "holotoken",
        "KEYUSDT": "selfkey",
        "BUSDUSDT": "binance-usd",
        "COTIUSDT": "coti",
        "SOLUSDT": "solana",
        "UNIUSDT": "uniswap",
        "AXSUSDT": "axie-infinity",
        "SKLUSDT": "skale",
        "PHAUSDT": "pha",
        "QNTUSDT": "quant-network",
        "PORTOUSDT": "fc-porto",
        "JASMYUSDT": "jasmycoin",
        "SPELLUSDT": "spell-token",
        "IMXUSDT": "immutable-x",
        "APEUSDT": "apecoin",
    }  # MDXUSDT and EPXUSDT: no such coin in the CoinGecko set; GBPUSDT, AUDUSDT: fiat
    assert m.resolve("DOGEUSDT") == ("dogecoin", 0)  # shared with a peg and a meme coin: curated
    assert "WETH" in m.ambiguous  # many bridged copies and no override: skipped
