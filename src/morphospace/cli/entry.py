"""The ``morphospace`` command: every command added to the app, and :func:`main`, which
turns every bad input into one line and exit code 2."""

from __future__ import annotations

import sys
import warnings

import typer

from morphospace.cli.root import app
from morphospace.errors import MorphospaceError

# isort: off
# each module adds its commands to the app, in this order in --help
from morphospace.cli import data, training, tables, answers  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"morphospace: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input)."""
    warnings.formatwarning = _one_line_warning  # users see the message, not our source lines
    try:
        app(args=argv, prog_name="morphospace")
    except SystemExit as exc:  # typer's normal way out, usage errors included
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except MorphospaceError as exc:
        typer.echo(f"morphospace: error: {exc}", err=True)
        return 2
    except OSError as exc:  # e.g. an unwritable output folder
        where = exc.filename or "morphospace"
        typer.echo(f"morphospace: error: {where}: {exc.strerror or exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
