"""The ``morphospace`` command itself: the Typer app, ``--version`` and :func:`main`, which
turns every bad input into one line and exit code 2."""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer

from morphospace import __version__
from morphospace.errors import MorphospaceError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Label-free morphology exploration of astronomical images and spectral cubes.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"morphospace {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Self-supervised (BYOL) embeddings, maps, clusters and anomalies for FITS data."""


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
