"""The ``coinseason`` command line (typer): :data:`app`, the entry point :func:`main`, and the :class:`Runtime` a
caller may pass as typer's context object."""

from coinseason.cli.root import app, main
from coinseason.cli.runtime import Runtime

__all__ = ["Runtime", "app", "main"]
