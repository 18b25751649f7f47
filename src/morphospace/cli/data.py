"""Commands that make or look at input data: ``synth``, ``inspect`` and ``cutouts``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morphospace.choices import MIN_SIDE, check_choice
from morphospace.cli.options import (
    catalogue_options,
    cluster_option,
    data_argument,
    hdu_option,
    on_error_option,
    progress_option,
    seed_option,
    sources_of,
    with_options,
    workers_option,
)
from morphospace.cli.root import app
from morphospace.errors import InputError

if TYPE_CHECKING:
    from morphospace.io.cutouts import CatalogueCut

__all__ = ["cutouts", "inspect", "synth"]


@app.command()
@with_options(seed=seed_option, workers=workers_option)
def synth(
    seed: int,
    workers: int | None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")],
    n: Annotated[int, typer.Option("-n", help="Number of objects.", min=1)] = 1000,
    cubes: Annotated[bool, typer.Option("--cubes", help="Also write spectral cubes.")] = False,
    size: Annotated[
        int | None, typer.Option(help="Fixed image side in px (default: random 32-256).", min=16)
    ] = None,
    hard: Annotated[
        bool,
        typer.Option(
            "--hard",
            help="Survey-like cutouts: small off-centre objects, zero-clipped backgrounds, "
            "bright cores, blank cutouts, imbalanced classes.",
        ),
    ] = False,
) -> None:
    """Write synthetic FITS objects with known morphology and a labels.csv."""
    from morphospace.synth import class_names, synthesize

    if hard and cubes:
        raise InputError("--hard", "the hard family has 2-D images only: drop --cubes")
    labels = synthesize(output, n, cubes=cubes, seed=seed, size=size, workers=workers, hard=hard)
    classes = len(class_names(cubes)) + hard  # the hard family adds blank cutouts
    typer.echo(f"wrote {n} objects ({classes} classes) to {output / 'images'}; labels in {labels}")


@app.command()
@with_options(
    data=data_argument,
    hdu=hdu_option,
    on_error=on_error_option,
    workers=workers_option,
    cut=catalogue_options,
)
def inspect(
    data: list[str],
    hdu: str | None,
    on_error: str,
    workers: int | None,
    cut: CatalogueCut | None,
    min_side: Annotated[int, typer.Option(help="Smallest accepted image side (px).")] = MIN_SIDE,
    table: Annotated[
        Path | None, typer.Option("--table", help="Write per-object metadata to this CSV.")
    ] = None,
) -> None:
    """Dry run: list what would go in (shapes, pixel scales, beams, NaN) and every problem.

    Exits with 1 when any file has a problem (as astropy's fitscheck does), 0 when none.
    """
    import tempfile

    from morphospace.io import format_inventory, take_inventory, write_inventory

    with tempfile.TemporaryDirectory(prefix="morphospace-inspect-") as scratch:
        inventory = take_inventory(
            sources_of(data, cut, Path(scratch)) or data,
            hdu=None if cut is not None else hdu,
            min_side=min_side,
            on_error=on_error,  # type: ignore[arg-type]
            workers=workers,
        )
    typer.echo(format_inventory(inventory))
    if table is not None:
        typer.echo(f"metadata table: {write_inventory(inventory, table)}")
    if inventory.problems:
        raise typer.Exit(code=1)


@app.command()
@with_options(
    hdu=hdu_option, progress=progress_option, cut=catalogue_options, cluster=cluster_option
)
def cutouts(
    hdu: str | None,
    progress: bool,
    cut: CatalogueCut | None,
    cluster: str | None,
    map_file: Annotated[Path, typer.Argument(metavar="MAP", help="The large FITS map or cube.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")],
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Mask or label map: one object per component.")
    ] = None,
    edge: Annotated[
        str, typer.Option(help="Objects crossing the map edge: 'pad' with NaN or 'skip'.")
    ] = "pad",
    outside: Annotated[
        str, typer.Option(help="A position outside the map: 'fail' or 'skip'.")
    ] = "fail",
    margin: Annotated[int, typer.Option(help="Mask mode: pixels around each component.")] = 5,
    min_area: Annotated[int, typer.Option(help="Mask mode: smallest component (px).")] = 10,
    isolate: Annotated[
        bool, typer.Option(help="Mask mode: blank other components in each cutout.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the cutouts already in OUTPUT (else it must be empty).")
    ] = False,
) -> None:
    """Cut objects out of a large map, from a catalogue or from a mask / label map.

    train, run, embed and inspect take the same --catalog options and cut while reading."""
    from morphospace.io import cutouts_from_catalog, cutouts_from_mask

    check_choice("--edge", edge, ("pad", "skip"))
    check_choice("--outside", outside, ("fail", "skip"))
    if (cut is None) == (mask is None):
        raise InputError(str(map_file), "give exactly one of --catalog or --mask")
    if cut is not None:
        result = cutouts_from_catalog(
            map_file, cut.catalog, output, edge=edge, outside=outside, hdu=hdu,  # type: ignore[arg-type]
            progress=progress, overwrite=overwrite, cluster=cluster,
            **cut.options(),  # type: ignore[arg-type]
        )  # fmt: skip
    else:
        assert mask is not None
        if cluster is not None:
            raise InputError("--cluster", "cuts from a catalogue; a mask is cut here, without it")
        result = cutouts_from_mask(
            map_file, mask, output, margin=margin, min_area=min_area, isolate=isolate,
            edge=edge, hdu=hdu, progress=progress, overwrite=overwrite,  # type: ignore[arg-type]
        )  # fmt: skip
    edge_note = {"pad": "padded with NaN", "skip": "skipped"}[edge]
    typer.echo(f"wrote {len(result.written)} cutouts to {output}; index in {result.index_path}")
    at_edge = result.at_edge
    if at_edge:
        typer.echo(f"{len(at_edge)} objects at the map edge or outside it ({edge_note}):")
        for r in at_edge:
            typer.echo(f"  {r.name}: x={r.x:.1f} y={r.y:.1f}: {r.status}, {r.note}")
