"""The ``coinseason`` command line: the root typer app, every command in the order ``--help`` lists them, and
:func:`main`. Commands are thin over the services; errors become one line and exit code 2."""

from __future__ import annotations

import typer

from coinseason.cli import consensus as consensus_commands
from coinseason.cli.importing import import_, run
from coinseason.cli.index import breakdown, coins, index_app, seasons
from coinseason.cli.ingest import ingest_app
from coinseason.cli.keys import keys_app
from coinseason.cli.live import live
from coinseason.cli.model import features_app, model_app, outlook
from coinseason.cli.runtime import Runtime
from coinseason.cli.serve import serve
from coinseason.cli.trading import backtest, rebalance, risk

app = typer.Typer(help="Bitcoin season or altcoin season: exact season indices and dominance.", no_args_is_help=True)


@app.callback()
def _runtime(ctx: typer.Context) -> None:
    """Give every command a :class:`Runtime`: the caller's (``obj``), else the real clock and server."""
    ctx.ensure_object(Runtime)


app.command("import")(import_)
app.command("seasons")(seasons)
app.command("breakdown")(breakdown)
app.command("coins")(coins)
app.command("run")(run)
app.command("serve")(serve)
app.command("backtest")(backtest)
app.command("risk")(risk)
app.command("rebalance")(rebalance)
app.command("live")(live)
app.command("outlook")(outlook)
consensus_commands.register(app)
app.add_typer(index_app, name="index")
app.add_typer(keys_app, name="keys")
app.add_typer(ingest_app, name="ingest")
app.add_typer(model_app, name="model")
app.add_typer(features_app, name="features")


def main() -> None:
    """The ``coinseason`` entry point."""
    app()
