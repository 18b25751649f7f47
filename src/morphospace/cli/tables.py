"""Commands that make, explore and hand on an embedding table: ``embed``, ``report``,
``export`` and ``explore``."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morphospace.cli.echo import echo_embedding, echo_report
from morphospace.cli.options import (
    catalogue_options,
    embed_options,
    join_options,
    progress_option,
    report_options,
    run_or_table_argument,
    seed_option,
    sources_of,
    table_argument,
    with_options,
)
from morphospace.cli.root import app

if TYPE_CHECKING:
    from morphospace.embed.options import EmbedOptions
    from morphospace.io.catalogue import CatalogueJoin
    from morphospace.io.cutouts import CatalogueCut
    from morphospace.report.options import ReportOptions

__all__ = ["embed", "explore", "export", "report"]


@app.command()
@with_options(embedding=embed_options, progress=progress_option, cut=catalogue_options)
def embed(
    embedding: EmbedOptions,
    progress: bool,
    cut: CatalogueCut | None,
    run: Annotated[Path, typer.Argument(help="A trained run folder (holds model.json).")],
    data: Annotated[
        list[str] | None,
        typer.Argument(help="Objects to embed (default: the run's training data)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Parquet table (default RUN/embeddings.parquet)."),
    ] = None,
    npy: Annotated[bool, typer.Option(help="Also write the embeddings as a .npy file.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the table if it exists.")] = False,
    append: Annotated[
        bool,
        typer.Option(help="Add the objects it lacks to the table, on its map and clusters."),
    ] = False,
) -> None:
    """Embed objects with a trained model: one row per object in a Parquet table."""
    from morphospace.models.paths import model_card_path

    model_card_path(run)  # a folder that is not a run is said before torch is loaded
    table = output or run / "embeddings.parquet"
    data = sources_of(data, cut, table.parent / "sources")  # a map's objects, cut as read
    from morphospace.pipeline import embed_run

    result = embed_run(
        run,
        list(data) if data else None,
        output,
        options=embedding,
        npy=npy,
        progress=progress,
        overwrite=overwrite,
        append=append,
    )
    if append:
        typer.echo(f"added {len(result.table)} objects to {result.path}")
    echo_embedding(result)


@app.command()
@with_options(
    embeddings=table_argument, options=report_options, seed=seed_option, progress=progress_option
)
def report(
    embeddings: Path,
    options: ReportOptions,
    seed: int,
    progress: bool,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Report folder (default: beside it).")
    ] = None,
) -> None:
    """Maps, clusters, anomalies, figures and the interactive page for an embedding table."""
    from morphospace.report import build_report

    output = output or embeddings.parent / "report"
    options = dataclasses.replace(options, seed=seed)
    echo_report(build_report(embeddings, output, options, progress=progress))


@app.command()
@with_options(table=run_or_table_argument, join=join_options, progress=progress_option)
def export(
    table: Path,
    join: CatalogueJoin | None,
    progress: bool,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The table to write: .fits, .vot, .ecsv or .csv."),
    ] = None,
    hats: Annotated[
        Path | None,
        typer.Option(
            help="Or a new folder for a HATS catalogue, with the embeddings, that LSDB "
            "opens and cross-matches (needs the cluster extra)."
        ),
    ] = None,
    embedding: Annotated[
        bool, typer.Option(help="Also write the embedding vectors, as an array column.")
    ] = False,
    regions: Annotated[
        bool, typer.Option(help="Also write DS9/CARTA regions beside it, coloured by cluster.")
    ] = True,
) -> None:
    """Every object with its metadata, map position, cluster, anomaly score and labels, for
    TOPCAT, DS9, CARTA or astropy; or, with --hats, a catalogue for LSDB."""
    from morphospace.errors import InputError

    if (output is None) == (hats is None):
        raise InputError(str(table), "give exactly one of -o TABLE or --hats FOLDER")
    if hats is not None:
        from morphospace.report.export import export_hats

        folder, said = export_hats(table, hats, join=join, progress=progress)
        for line in said:
            typer.echo(line)
        typer.echo(f"wrote the HATS catalogue {folder} (open it with lsdb.read_hats)")
        return
    from morphospace.report.export import export_table

    written, said = export_table(table, output, embedding=embedding, join=join, regions=regions)
    for line in said:
        typer.echo(line)
    typer.echo("wrote " + " and ".join(str(path) for path in written))


@app.command()
@with_options(run=run_or_table_argument, join=join_options)
def explore(
    run: Path,
    join: CatalogueJoin | None,
    port: Annotated[int, typer.Option(help="Port to serve on (0: a free one).", min=0)] = 0,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback is reachable by others.")
    ] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="Open the page in the browser.")] = True,
) -> None:
    """The local explorer: zoom, select, label, propagate and export, in the browser."""
    from morphospace.app.server import LOOPBACK, serve

    if host not in LOOPBACK:
        warnings.warn(
            f"serving on {host}: anyone who can reach it and has the URL's token can read "
            "and label your objects",
            stacklevel=1,
        )
    serve(run, host=host, port=port, open_browser=browser, announce=typer.echo, join=join)
