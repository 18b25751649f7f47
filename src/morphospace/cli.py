"""The ``morphospace`` command: one thin subcommand per library entry point.

Bad input ends with a one-line ``morphospace: error: FILE: problem`` on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from inspect import Signature, signature
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from morphospace import __version__
from morphospace.choices import EMBED_BATCH_SIZE, MIN_SIDE, ON_ERROR, ON_ERROR_CHOICES
from morphospace.errors import InputError, MorphospaceError

app = typer.Typer(
    help="Label-free morphology exploration of astronomical images and spectral cubes.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DataArg = Annotated[
    list[str],
    typer.Argument(
        help="FITS files, directories (searched recursively), globs or text file lists."
    ),
]
HduOpt = Annotated[
    str | None, typer.Option("--hdu", help="HDU index or EXTNAME (default: first image HDU).")
]


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


@app.command()
def synth(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")],
    n: Annotated[int, typer.Option("-n", help="Number of objects.", min=1)] = 1000,
    cubes: Annotated[bool, typer.Option("--cubes", help="Also write spectral cubes.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    size: Annotated[
        int | None, typer.Option(help="Fixed image side in px (default: random 32-256).", min=16)
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
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
def inspect(
    data: DataArg,
    hdu: HduOpt = None,
    min_side: Annotated[int, typer.Option(help="Smallest accepted image side (px).")] = MIN_SIDE,
    table: Annotated[
        Path | None, typer.Option("--table", help="Write per-object metadata to this CSV.")
    ] = None,
    on_error: Annotated[
        str, typer.Option(help="'skip' lists bad files; 'fail' stops at the first one (exit 2).")
    ] = ON_ERROR,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Dry run: list what would go in (shapes, pixel scales, beams, NaN) and every problem.

    Exits with 1 when any file has a problem (as astropy's fitscheck does), 0 when none.
    """
    from morphospace.io import format_inventory, take_inventory, write_inventory

    _choice("--on-error", on_error, ON_ERROR_CHOICES)
    inventory = take_inventory(
        data,
        hdu=hdu,
        min_side=min_side,
        on_error=on_error,
        workers=workers,  # type: ignore[arg-type]
    )
    typer.echo(format_inventory(inventory))
    if table is not None:
        typer.echo(f"metadata table: {write_inventory(inventory, table)}")
    if inventory.problems:
        raise typer.Exit(code=1)


@app.command()
def cutouts(
    map_file: Annotated[Path, typer.Argument(metavar="MAP", help="The large FITS map or cube.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")],
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="CSV, ECSV, FITS table or VOTable of positions."),
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Mask or label map: one object per component.")
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(help="Cutout size: 64 or 64px, 30\" or 30arcsec, 2' or 2arcmin, '3 beam'."),
    ] = None,
    size_col: Annotated[str | None, typer.Option(help="Column with each row's size.")] = None,
    size_unit: Annotated[str, typer.Option(help="Unit of --size-col if it has none.")] = "pix",
    ra_col: Annotated[str | None, typer.Option(help="RA (or longitude) column.")] = None,
    dec_col: Annotated[str | None, typer.Option(help="Dec (or latitude) column.")] = None,
    x_col: Annotated[str | None, typer.Option(help="Pixel x column.")] = None,
    y_col: Annotated[str | None, typer.Option(help="Pixel y column.")] = None,
    pixel_origin: Annotated[
        int, typer.Option(help="Pixel columns count from 0 (numpy) or 1 (FITS, DS9).")
    ] = 0,
    name_col: Annotated[str | None, typer.Option(help="Column naming each object.")] = None,
    frame: Annotated[
        str | None, typer.Option(help="Frame of sky columns (icrs, galactic…).")
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
    hdu: HduOpt = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the cutouts already in OUTPUT (else it must be empty).")
    ] = False,
    progress: ProgressOpt = True,
) -> None:
    """Cut objects out of a large map, from a catalogue or from a mask / label map."""
    from morphospace.io import cutouts_from_catalog, cutouts_from_mask

    _choice("--edge", edge, ("pad", "skip"))
    _choice("--outside", outside, ("fail", "skip"))
    if (catalog is None) == (mask is None):
        raise InputError(str(map_file), "give exactly one of --catalog or --mask")
    if catalog is not None:
        if pixel_origin not in (0, 1):
            raise InputError("--pixel-origin", "must be 0 or 1")
        if size is None and size_col is None:
            raise InputError("--size", "give --size or --size-col")
        result = cutouts_from_catalog(
            map_file, catalog, output, size=size, size_column=size_col, size_unit=size_unit,
            ra_column=ra_col, dec_column=dec_col, x_column=x_col, y_column=y_col,
            name_column=name_col, frame=frame, pixel_origin=pixel_origin,  # type: ignore[arg-type]
            edge=edge, outside=outside, hdu=hdu, progress=progress,  # type: ignore[arg-type]
            overwrite=overwrite,
        )  # fmt: skip
    else:
        assert mask is not None
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


ResumeOpt = Annotated[bool, typer.Option(help="Continue the run in OUTPUT where it stopped.")]
ProgressOpt = Annotated[bool, typer.Option(help="Show progress bars.")]
TtaOpt = Annotated[
    bool, typer.Option(help="Average over 90° rotations and flips (orientation-free).")
]
MapOpt = Annotated[str, typer.Option("--map", help="2-D map: umap, tsne or pca.")]
ClustersOpt = Annotated[
    int | None, typer.Option("-k", "--clusters", help="k-means clusters (default: by silhouette).")
]
ColourOpt = Annotated[
    list[str] | None,
    typer.Option("--colour-by", "--color-by", help="Also colour the maps by this column."),
]
JoinOpt = Annotated[
    Path | None,
    typer.Option(
        help="A catalogue to join (CSV, ECSV, FITS or VOTable), matched by sky position, "
        "OBJECT name or file name."
    ),
]
JoinOnOpt = Annotated[
    str | None,
    typer.Option(
        "--join-on",
        metavar="TABLE_COLUMN=CATALOGUE_COLUMN",
        help="Match the catalogue's rows on these columns instead.",
    ),
]
RadiusOpt = Annotated[
    str,
    typer.Option(
        "--match-radius", help="Largest sky separation of a catalogue match: 3 (arcsec), 3\", 0.1'."
    ),
]
RunOrTableArg = Annotated[
    Path, typer.Argument(help="A run folder (its embeddings.parquet) or an embedding table.")
]
AnswerOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Write the answer as a table: .csv, .vot, .ecsv, .fits."),
]
GalleryOpt = Annotated[
    Path | None, typer.Option("--gallery", help="Gallery PNG (default: beside the table).")
]
TensorboardOpt = Annotated[
    bool, typer.Option(help="Also write a TensorBoard projector log (report/tensorboard).")
]


@dataclass
class TrainingRequest:
    """What the training options of ``train`` and ``run`` resolve to."""

    settings: Any  # morphospace.config.Settings, imported only when a command runs
    output: Path
    resume: bool
    progress: bool
    stop_after: int | None = None


def _training_options(
    data: Annotated[
        list[str] | None,
        typer.Argument(help="FITS files, folders, globs or file lists (or data.sources in -c)."),
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder to write.")] = Path(
        "run"
    ),
    config: Annotated[
        Path | None, typer.Option("-c", "--config", help="morphospace or astromorph TOML settings.")
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.KEY=VALUE",
            help="Any setting, over the file's: e.g. --set train.learning_rate=1e-3, "
            "--set data.hdu=SCI, --set preprocess.steps.3.margin=0.2 (repeatable; values "
            "in TOML syntax).",
        ),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (train.epochs; default: auto).", min=1)
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(help="astro_cnn, resnet18[:layerN], resnet34, resnet50, amm, timm:NAME."),
    ] = None,
    view_size: Annotated[
        int | None, typer.Option(help="Training view side in px (augment.view_size).", min=16)
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:1, …")] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this earlier run's model and fine-tune it."),
    ] = None,
    resume: ResumeOpt = False,
    stop_after: Annotated[
        int | None,
        typer.Option(help="Train at most N epochs now; --resume continues later.", min=1),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a trained model already in OUTPUT.")
    ] = False,
    progress: ProgressOpt = True,
) -> TrainingRequest:
    """Resolved settings for a training run in ``output``, after checking nothing is lost."""
    from morphospace.config import load_settings, parse_assignments

    if (output / "model.safetensors").exists() and not (resume or overwrite):
        raise InputError(
            str(output), "already holds a trained model; use --resume to continue it or --overwrite"
        )
    if resume and not (output / "checkpoints" / "last.pt").exists():
        raise InputError(str(output), "nothing to resume: no checkpoints/last.pt in this folder")
    if config is None and resume and (output / "config.toml").exists():
        config = output / "config.toml"  # continue with the settings the run started with
    headline = {
        "data.sources": list(data) if data else None,
        "train.epochs": epochs,
        "model.backbone": backbone,
        "augment.view_size": view_size,
        "train.device": device,
        "finetune.from_run": str(init) if init else None,
    }
    overrides = {**parse_assignments(assignments or []), **headline}
    settings = load_settings(config, overrides, base=_architecture_of(overrides))
    return TrainingRequest(settings, output, resume, progress, stop_after)


def _architecture_of(overrides: dict[str, Any]) -> dict[str, Any]:
    """With ``--init``, the earlier model's architecture in place of the defaults."""
    from morphospace.models import read_model_card
    from morphospace.train.transfer import architecture_of

    earlier = overrides.get("finetune.from_run")
    return {} if earlier is None else architecture_of(read_model_card(Path(earlier)))


def _with_training_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the options of :func:`_training_options`, declared there once.

    The command takes a ``training: TrainingRequest`` parameter in their place; its other
    options follow the shared ones in ``--help``.
    """
    shared = signature(_training_options, eval_str=True).parameters
    own = signature(command, eval_str=True).parameters

    @functools.wraps(command)
    def wrapper(**options: Any) -> None:
        training = _training_options(**{name: options.pop(name) for name in shared})
        command(training=training, **options)

    parameters = [*shared.values(), *(p for name, p in own.items() if name != "training")]
    wrapper.__signature__ = Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    del wrapper.__wrapped__  # typer must read the merged signature, not the command's
    return wrapper


@app.command()
@_with_training_options
def train(training: TrainingRequest) -> None:
    """Train a BYOL encoder on your objects; writes RUN/model.safetensors and RUN/model.json."""
    from morphospace.train import Trainer

    output = training.output
    result = Trainer(
        training.settings,
        output,
        resume=training.resume,
        progress=training.progress,
        stop_after=training.stop_after,
    ).fit()
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun, rank 0 reports for everyone
    _echo_training(result, output, "train")


def _echo_training(result, output: Path, command: str) -> None:
    if not result.finished:
        typer.echo(
            f"stopped after epoch {result.epochs} of {result.total_epochs}; "
            f"continue with: morphospace {command} -o {output} --resume"
        )
        return
    val = f", val loss {result.val_loss:.4f}" if result.val_loss is not None else ""
    typer.echo(
        f"trained {result.epochs} epochs ({result.steps} steps): "
        f"train loss {result.train_loss:.4f}{val}, embedding spread {result.spread:.2f}, "
        f"{result.images_per_second:.0f} images/s"
    )
    typer.echo(f"model: {output / 'model.safetensors'} (+ model.json); logs: {output / 'logs'}")


@app.command()
def embed(
    run: Annotated[Path, typer.Argument(help="A trained run folder (holds model.json).")],
    data: Annotated[
        list[str] | None,
        typer.Argument(help="Objects to embed (default: the run's training data)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Parquet table (default RUN/embeddings.parquet)."),
    ] = None,
    tta: TtaOpt = True,
    npy: Annotated[bool, typer.Option(help="Also write the embeddings as a .npy file.")] = False,
    batch_size: Annotated[
        int, typer.Option(help="Objects per forward pass.", min=1)
    ] = EMBED_BATCH_SIZE,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, …")] = "auto",
    workers: Annotated[int | None, typer.Option(help="Reader processes.")] = None,
    on_error: Annotated[str, typer.Option(help="skip (warn and go on) or fail.")] = ON_ERROR,
    overwrite: Annotated[bool, typer.Option(help="Replace the table if it exists.")] = False,
    append: Annotated[
        bool,
        typer.Option(help="Add the objects it lacks to the table, on its map and clusters."),
    ] = False,
    progress: ProgressOpt = True,
) -> None:
    """Embed objects with a trained model: one row per object in a Parquet table."""
    from morphospace.pipeline import embed_run

    _choice("--on-error", on_error, ON_ERROR_CHOICES)
    result = embed_run(
        run,
        list(data) if data else None,
        output,
        npy=npy,
        workers=workers,
        on_error=on_error,
        progress=progress,
        overwrite=overwrite,
        append=append,
        tta=tta,
        batch_size=batch_size,
        device=device,
    )
    if append:
        typer.echo(f"added {len(result.table)} objects to {result.path}")
    _echo_embedding(result)


def _echo_embedding(result) -> None:
    for problem in result.problems[:5]:
        warnings.warn(f"skipped {problem}", stacklevel=1)
    more = f" ({len(result.problems)} skipped, listed in embed_skipped.csv)"
    typer.echo(
        f"embedded {len(result.table)} objects ({result.table.embeddings.shape[1]} dimensions)"
        f"{more if result.problems else ''}: {result.path}"
    )


@app.command()
def report(
    embeddings: Annotated[Path, typer.Argument(help="An embedding table (.parquet).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Report folder (default: beside it).")
    ] = None,
    map_method: MapOpt = "umap",
    clusters: ClustersOpt = None,
    colour_by: ColourOpt = None,
    join: JoinOpt = None,
    join_on: JoinOnOpt = None,
    match_radius: RadiusOpt = "3",
    tensorboard: TensorboardOpt = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Maps, clusters, anomalies, figures and the interactive page for an embedding table."""
    from morphospace.explore.maps import METHODS
    from morphospace.report import build_report

    _choice("--map", map_method, METHODS)
    output = output or embeddings.parent / "report"
    result = build_report(
        embeddings,
        output,
        method=map_method,
        k=clusters,
        colour_by=colour_by,
        join=_catalogue(join, join_on, match_radius),
        tensorboard=tensorboard,
        seed=seed,
        progress=progress,
    )
    _echo_report(result)


def _echo_report(result) -> None:
    if result.join is not None:
        typer.echo(result.join)
    for problem in result.problems[:5]:
        warnings.warn(f"no thumbnail for {problem}", stacklevel=1)
    k = result.table.info.get("k")
    typer.echo(
        f"{len(result.table)} objects, {k} clusters; wrote {len(result.files)} files to "
        f"{result.folder}"
    )
    typer.echo(f"open {result.folder / 'index.html'} in a browser")


@app.command()
def similar(
    embeddings: Annotated[Path, typer.Argument(help="An embedding table (.parquet).")],
    query: Annotated[str, typer.Argument(help="Object id or OBJECT name, or a FITS file.")],
    k: Annotated[int, typer.Option("-k", help="Number of neighbours.", min=1)] = 12,
    run: Annotated[
        Path | None,
        typer.Option(help="Run whose model embeds a new FITS file (default: recorded)."),
    ] = None,
    output: AnswerOpt = None,
    gallery: GalleryOpt = None,
) -> None:
    """The objects most similar to one of interest (cosine similarity of embeddings)."""
    from morphospace.report.queries import similar_to

    _check_answer_table(output)
    found = similar_to(embeddings, query, k, run=run, gallery=gallery)
    _echo_answer(found, output)


@app.command()
def anomalies(
    embeddings: Annotated[Path, typer.Argument(help="An embedding table (.parquet).")],
    n: Annotated[int, typer.Option("-n", help="How many to list.", min=1)] = 50,
    output: AnswerOpt = None,
    gallery: GalleryOpt = None,
    marks: Annotated[
        str | None,
        typer.Option(
            help="Re-rank by your marks, as marks.csv:COLUMN (1/yes = interesting, 0/no = not)."
        ),
    ] = None,
) -> None:
    """The most unusual objects, ranked (isolation forest, LOF and k-NN distance combined)."""
    from morphospace.report.queries import top_anomalies

    _check_answer_table(output)
    found = top_anomalies(embeddings, n, gallery=gallery, marks=_one_column(marks, "--marks"))
    _echo_answer(found, output)


@app.command()
def label(
    table: RunOrTableArg,
    labels: Annotated[
        str, typer.Option(help="The labels you have, as labels.csv:COLUMN (blank = unlabelled).")
    ],
    method: Annotated[
        str, typer.Option(help="auto (by cross-validated accuracy), logistic or knn.")
    ] = "auto",
    suggest: Annotated[int, typer.Option(help="How many objects to suggest labelling next.")] = 20,
    output: AnswerOpt = None,
    gallery: GalleryOpt = None,
) -> None:
    """Propagate a few labels to every object; writes COLUMN_predicted, _probability, _next."""
    from morphospace.embed import find_table
    from morphospace.explore.propagate import METHODS
    from morphospace.report.queries import label_objects

    _choice("--method", method, METHODS)
    path = find_table(table)
    column = _one_column(labels, "--labels")
    _check_answer_table(output)
    found = label_objects(path, column, method=method, suggest=suggest, gallery=gallery)
    typer.echo(f"columns written to {path}")
    _echo_answer(found, output)


@app.command()
def export(
    table: RunOrTableArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The table to write: .fits, .vot, .ecsv or .csv.")
    ],
    embedding: Annotated[
        bool, typer.Option(help="Also write the embedding vectors, as an array column.")
    ] = False,
    regions: Annotated[
        bool, typer.Option(help="Also write DS9/CARTA regions beside it, coloured by cluster.")
    ] = True,
    join: JoinOpt = None,
    join_on: JoinOnOpt = None,
    match_radius: RadiusOpt = "3",
) -> None:
    """Every object with its metadata, map position, cluster, anomaly score and labels, for
    TOPCAT, DS9, CARTA or astropy."""
    from morphospace.report.export import export_table

    written, said = export_table(
        table, output, embedding=embedding, join=_catalogue(join, join_on, match_radius),
        regions=regions,
    )  # fmt: skip
    for line in said:
        typer.echo(line)
    typer.echo("wrote " + " and ".join(str(path) for path in written))


@app.command()
def explore(
    run: RunOrTableArg,
    port: Annotated[int, typer.Option(help="Port to serve on (0: a free one).", min=0)] = 0,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback is reachable by others.")
    ] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="Open the page in the browser.")] = True,
    join: JoinOpt = None,
    join_on: JoinOnOpt = None,
    match_radius: RadiusOpt = "3",
) -> None:
    """The local explorer: zoom, select, label, propagate and export, in the browser."""
    from morphospace.app.server import LOOPBACK, serve

    if host not in LOOPBACK:
        warnings.warn(
            f"serving on {host}: anyone who can reach it and has the URL's token can read "
            "and label your objects",
            stacklevel=1,
        )
    catalogue = _catalogue(join, join_on, match_radius)
    serve(run, host=host, port=port, open_browser=browser, announce=typer.echo, join=catalogue)


@app.command()
def evaluate(
    embeddings: Annotated[Path, typer.Argument(help="An embedding table (.parquet).")],
    labels: Annotated[
        str | None, typer.Option(help="Classes to score against, as labels.csv:COLUMN.")
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(help="Continuous parameters, as labels.csv:radius,inclination,flux."),
    ] = None,
    baselines: Annotated[
        str | None,
        typer.Option(help="Comma-separated: pixel_pca, random, supervised (or 'all')."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Folder for evaluation.json/.md (default: beside the table)."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="The run's folder (default: as the table records).")
    ] = None,
    invariance: Annotated[
        bool, typer.Option(help="Measure orientation invariance (needs the run and files).")
    ] = True,
    supervised_epochs: Annotated[
        int, typer.Option(help="Epochs per fold of the supervised baseline.", min=1)
    ] = 20,
    join_on: JoinOnOpt = None,
    match_radius: RadiusOpt = "3",
    seed: Annotated[int, typer.Option(help="Seed for the folds and baselines.")] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Figures of merit: k-NN and linear probe, silhouette, ARI/NMI, R², invariance."""
    from morphospace.evaluate.scorecard import BASELINES, evaluate_table, read_columns
    from morphospace.progress import stages

    names = [b.strip() for b in (baselines or "").split(",") if b.strip()]
    names = list(BASELINES) if names == ["all"] else names
    classes, values = _one_column(labels, "--labels"), read_columns(params, "--params")
    if join_on is not None and classes is None and values is None:
        raise InputError("--join-on", "names columns to match, so it needs --labels or --params")
    with stages("evaluate", None, progress) as stage:
        card = evaluate_table(
            embeddings,
            labels=classes and (_catalogue(classes[0], join_on, match_radius), classes[1]),
            params=values and (_catalogue(values[0], join_on, match_radius), values[1]),
            baselines=names,
            run_dir=run_dir,
            invariance=invariance,
            supervised_epochs=supervised_epochs,
            seed=seed,
            progress=stage,
        )
    written = card.write(output or embeddings.parent / "evaluation")
    typer.echo(card.to_markdown())
    typer.echo(f"written: {written[0]} and {written[1]}")


@app.command()
@_with_training_options
def run(
    training: TrainingRequest,
    tta: TtaOpt = True,
    map_method: MapOpt = "umap",
    clusters: ClustersOpt = None,
    colour_by: ColourOpt = None,
    join: JoinOpt = None,
    join_on: JoinOnOpt = None,
    match_radius: RadiusOpt = "3",
    tensorboard: TensorboardOpt = False,
) -> None:
    """Train, embed and report in one go: RUN/model.*, RUN/embeddings.parquet, RUN/report/."""
    from morphospace.explore.maps import METHODS
    from morphospace.pipeline import run_pipeline

    _choice("--map", map_method, METHODS)
    result = run_pipeline(
        training.settings,
        training.output,
        resume=training.resume,
        progress=training.progress,
        stop_after=training.stop_after,
        embed_options={"tta": tta},
        report_options={
            "method": map_method,
            "k": clusters,
            "colour_by": colour_by,
            "join": _catalogue(join, join_on, match_radius),
            "tensorboard": tensorboard,
        },
        announce=typer.echo,
    )
    _echo_pipeline(result)


def _echo_pipeline(result, command: str = "run") -> None:
    _echo_training(result.training, result.run_dir, command)
    if result.embeddings is not None:
        _echo_embedding(result.embeddings)
        _echo_report(result.report)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for everything.")] = Path(
        "demo-output"
    ),
    n: Annotated[int | None, typer.Option("-n", help="Synthetic objects [400].", min=20)] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs [30].", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Synthetic data, then train, embed and report: the whole package in a few minutes."""
    import time

    from morphospace.pipeline import demo as run_demo

    start = time.perf_counter()
    sizes = {name: value for name, value in (("n", n), ("epochs", epochs)) if value is not None}
    result = run_demo(output, seed=seed, progress=progress, **sizes)
    _echo_pipeline(result)
    typer.echo(f"demo finished in {time.perf_counter() - start:.0f} s")


def _check_answer_table(output: Path | None) -> None:
    """Refuse an answer table of unknown format before any work."""
    from morphospace.report.export import table_format

    if output is not None:
        table_format(output)


def _echo_answer(found, output: Path | None) -> None:
    from morphospace.report.export import write_rows

    typer.echo(found.format())
    if output is not None:
        typer.echo(f"table: {write_rows(found.rows, output)}")
    typer.echo(f"gallery: {found.gallery}")


def _catalogue(path: Path | None, join_on: str | None, radius: str, option: str = "--join"):
    """The catalogue join the options describe (None without a catalogue)."""
    from morphospace.io.catalogue import CatalogueJoin
    from morphospace.io.quantities import read_angle

    arcsec = read_angle(radius, "--match-radius").value
    if path is None:
        if join_on is not None:
            raise InputError("--join-on", f"names columns to match, so it needs {option}")
        return None
    return CatalogueJoin(path, join_on, arcsec)


def _one_column(spec: str | None, option: str) -> tuple[Path, str] | None:
    """``FILE.csv:COLUMN`` as the file and its one column (None when not given)."""
    from morphospace.evaluate.scorecard import read_columns

    parsed = read_columns(spec, option)
    if parsed is None:
        return None
    if len(parsed[1]) != 1:
        raise InputError(spec, f"{option} takes one column, as FILE.csv:COLUMN")
    return parsed[0], parsed[1][0]


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> Literal[True]:
    if value not in allowed:
        raise InputError(option, f"must be one of {', '.join(allowed)}, not {value!r}")
    return True


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
