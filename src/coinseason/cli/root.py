"""The ``coinseason`` command line: the root typer app, every command in the order ``--help`` lists them, and
:func:`main`. Commands are thin over the services; errors become one line and exit code 2.

Each command is one line of :data:`COMMANDS`: its name, where it lives (``"module:attribute"``, a typer app or a
command function) and the line ``--help`` shows. Its module loads only when the command runs (see
:mod:`coinseason.cli.lazy`), so ``coinseason --help`` stays quick however many commands there are.
"""

from __future__ import annotations

import typer

from coinseason.cli.lazy import Lazy, lazy_group
from coinseason.cli.runtime import Runtime

COMMANDS: dict[str, Lazy] = {
    "import": Lazy("coinseason.cli.importing:import_", "Import a file through the quality gates, atomically."),
    "seasons": Lazy("coinseason.cli.index:seasons", "Season periods: start, end, length and peak of each season."),
    "breakdown": Lazy("coinseason.cli.index:breakdown", "Every coin of the universe on a day: did it beat BTC?"),
    "coins": Lazy("coinseason.cli.index:coins", "Coins of a source with their token class and its basis."),
    "run": Lazy("coinseason.cli.importing:run", "The main job: import a file (optional), then today's season."),
    "serve": Lazy("coinseason.cli.serve:serve", "The API service and dashboard over the store."),
    "backtest": Lazy("coinseason.cli.trading:backtest", "Backtest a BTC / alt basket / cash strategy (not advice)."),
    "risk": Lazy("coinseason.cli.trading:risk", "Risk and liquidity: volatility, VaR, drawdown, slippage."),
    "rebalance": Lazy("coinseason.cli.trading:rebalance", "Target weights for the season and a risk profile."),
    "live": Lazy("coinseason.cli.live:live", "Intraday season index and dominance from exchange prices."),
    "outlook": Lazy("coinseason.cli.model:outlook", "Probability of each season transition within H days."),
    "index": Lazy("coinseason.cli.index:index_app", "Season index and dominance series."),
    "keys": Lazy("coinseason.cli.keys:keys_app", "API keys of the REST API: create (shown once), list, revoke."),
    "ingest": Lazy("coinseason.cli.ingest:ingest_app", "Live data: backfill history and take scheduled snapshots."),
    "model": Lazy("coinseason.cli.model:model_app", "Early-warning models of season transitions."),
    "features": Lazy("coinseason.cli.model:features_app", "Feature data: sentiment, on-chain, macro (point in time)."),
    "mcp": Lazy("coinseason.cli.mcp:mcp", "MCP server for AI assistants: seasons and dominance as tools."),
    "consensus": Lazy(
        "coinseason.cli.consensus:consensus", "How sure the season call is: the index over 64 definitions."
    ),
    "margin": Lazy(
        "coinseason.cli.consensus:margin", "How many coins would have to change sides to change the season."
    ),
    "alerts": Lazy("coinseason.cli.alerts:alerts_app", "Alert rules and signed webhooks: add, list, remove, test."),
}
"""Every command, in the order ``--help`` lists them: name → where it lives and its one-line help."""

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="Bitcoin season or altcoin season: exact season indices and dominance.",
    no_args_is_help=True,
    rich_markup_mode=None,  # the list of commands in click's plain layout: Rich's help layout loads Markdown
)


@app.callback()
def _runtime(ctx: typer.Context) -> None:
    """Give every command a :class:`Runtime`: the caller's (``obj``), else the real clock and server."""
    ctx.ensure_object(Runtime)


def main() -> None:
    """The ``coinseason`` entry point."""
    app()
