"""The root of the ``morphospace`` command: the Typer app that every command module adds
its commands to, and ``--version``."""

from __future__ import annotations

from typing import Annotated

import typer

from morphospace import __version__

__all__ = ["app"]

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
