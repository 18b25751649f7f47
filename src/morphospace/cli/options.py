"""Options that several commands share, each declared once, and the one way commands get them.

An option group is a function whose parameters are the options (with their help and
default) and which returns what they describe as a typed object: the training run to
make, a catalogue join, the report's options, where an answer goes. :func:`with_options`
gives a command the options of its groups; the command receives each group's object.
A group may itself be made of groups, so the trio ``--join``, ``--join-on`` and
``--match-radius`` is written here once and reaches ``report``, ``run``, ``export`` and
``explore`` alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from inspect import Parameter, Signature, signature
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from morphospace.choices import (
    DEVICE,
    EMBED_BATCH_SIZE,
    MAP_METHOD,
    ON_ERROR,
    ON_ERROR_CHOICES,
    PAGE_OBJECTS,
    PARTITION_ROWS,
    check_choice,
)
from morphospace.errors import InputError

if TYPE_CHECKING:  # imported when a command runs, so that --help stays quick
    from morphospace.config import Settings
    from morphospace.embed.options import EmbedOptions
    from morphospace.io.catalogue import CatalogueJoin
    from morphospace.io.cutouts import CatalogueCut
    from morphospace.report.options import ReportOptions

__all__ = [
    "AnswerTo",
    "Matching",
    "TrainingRequest",
    "answer_options",
    "catalogue_options",
    "cluster_option",
    "data_argument",
    "embed_options",
    "hdu_option",
    "join_options",
    "matching_options",
    "on_error_option",
    "one_column",
    "progress_option",
    "report_options",
    "run_or_table_argument",
    "seed_option",
    "sources_of",
    "table_argument",
    "training_options",
    "tta_option",
    "with_options",
    "workers_option",
]

Command = Callable[..., Any]


def with_options(**groups: Command) -> Callable[[Command], Command]:
    """Give a command the options of each group, as declared in the group's signature.

    The command takes one parameter per group, named by its keyword here, and is called
    with what the group returns. The groups' options come first in ``--help``, in the
    order given, then the command's own.
    """

    def decorate(command: Command) -> Command:
        shared = {name: _options_of(group) for name, group in groups.items()}
        merged = [p for parameters in shared.values() for p in parameters]
        merged += _options_of(command, leave_out=groups)
        names = [p.name for p in merged]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise TypeError(f"{command.__name__}: options declared twice: {', '.join(clashes)}")

        @functools.wraps(command)
        def wrapper(**options: Any) -> Any:
            made = {
                name: group(**{p.name: options.pop(p.name) for p in shared[name]})
                for name, group in groups.items()
            }
            return command(**made, **options)

        # keyword-only, so that an argument without a default may follow options with one
        parameters = [p.replace(kind=Parameter.KEYWORD_ONLY) for p in merged]
        wrapper.__signature__ = Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        del wrapper.__wrapped__  # typer must read the merged signature, not the command's
        return wrapper

    return decorate


def _options_of(function: Command, leave_out: Collection[str] = ()) -> list[Parameter]:
    """The parameters of ``function`` but ``leave_out``, their annotations evaluated (they
    are text under ``from __future__ import annotations``) for typer to read."""
    parameters = []
    for name, parameter in signature(function).parameters.items():
        if name in leave_out:
            continue  # a group's typed result: its annotation may name a type not imported yet
        if isinstance(parameter.annotation, str):
            annotation = eval(parameter.annotation, function.__globals__)  # the module's names
            parameter = parameter.replace(annotation=annotation)
        parameters.append(parameter)
    return parameters


# --- single options --------------------------------------------------------------------------


def progress_option(
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> bool:
    return progress


def seed_option(seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> int:
    return seed


def workers_option(
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: every core).")
    ] = None,
) -> int | None:
    return workers


def cluster_option(
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run on a Dask cluster: local:N (N worker processes here) or the "
            "scheduler's address, tcp://HOST:8786. Needs the cluster extra."
        ),
    ] = None,
) -> str | None:
    if cluster is None:
        return None
    from morphospace.cluster import check_cluster

    return check_cluster(cluster)


def hdu_option(
    hdu: Annotated[
        str | None, typer.Option("--hdu", help="HDU index or EXTNAME (default: first image HDU).")
    ] = None,
) -> str | None:
    return hdu


def on_error_option(
    on_error: Annotated[
        str, typer.Option(help="'skip' lists bad files and goes on; 'fail' stops at the first.")
    ] = ON_ERROR,
) -> str:
    return check_choice("--on-error", on_error, ON_ERROR_CHOICES)


def tta_option(
    tta: Annotated[
        bool, typer.Option(help="Average over 90° rotations and flips (orientation-free).")
    ] = True,
) -> bool:
    return tta


def data_argument(
    data: Annotated[
        list[str],
        typer.Argument(
            help="FITS files, directories (searched recursively), globs or text file lists."
        ),
    ],
) -> list[str]:
    return data


def table_argument(
    embeddings: Annotated[Path, typer.Argument(help="An embedding table (.parquet).")],
) -> Path:
    from morphospace.embed.table import find_table

    return find_table(embeddings)  # a run folder names its table; a missing one is said early


def run_or_table_argument(
    table: Annotated[
        Path, typer.Argument(help="A run folder (its embeddings.parquet) or an embedding table.")
    ],
) -> Path:
    from morphospace.embed.table import find_table

    find_table(table)
    return table


# --- catalogues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matching:
    """How a catalogue's rows are matched to the objects (``--join-on``, ``--match-radius``)."""

    on: str | None
    radius: float  # arcsec

    def join(self, path: Path | None, option: str = "--join") -> CatalogueJoin | None:
        """The join of the catalogue ``path`` (given by ``option``); None without one."""
        from morphospace.io.catalogue import CatalogueJoin

        if path is None:
            if self.on is not None:
                raise InputError("--join-on", f"names columns to match, so it needs {option}")
            return None
        return CatalogueJoin(Path(path), self.on, self.radius)


def matching_options(
    join_on: Annotated[
        str | None,
        typer.Option(
            "--join-on",
            metavar="OURS=THEIRS",
            help="Match the catalogue's rows on these columns instead: a column of the table "
            "= a column of the catalogue.",
        ),
    ] = None,
    match_radius: Annotated[
        str,
        typer.Option(
            "--match-radius",
            help="Largest sky separation of a catalogue match: 3 (arcsec), 3\", 0.1'.",
        ),
    ] = "3",
) -> Matching:
    from morphospace.io.quantities import read_angle

    return Matching(join_on, read_angle(match_radius, "--match-radius").value)


@with_options(matching=matching_options)
def join_options(
    matching: Matching,
    join: Annotated[
        Path | None,
        typer.Option(
            help="A catalogue to join (CSV, ECSV, FITS or VOTable), matched by sky position, "
            "OBJECT name or file name."
        ),
    ] = None,
) -> CatalogueJoin | None:
    return matching.join(join)


def one_column(spec: str | None, option: str) -> tuple[Path, str] | None:
    """``FILE.csv:COLUMN`` as the file and its one column (None when not given)."""
    from morphospace.evaluate.scorecard import read_columns

    parsed = read_columns(spec, option)
    if parsed is None:
        return None
    if len(parsed[1]) != 1:
        raise InputError(spec, f"{option} takes one column, as FILE.csv:COLUMN")
    return parsed[0], parsed[1][0]


# --- what embed and report do ----------------------------------------------------------------


@with_options(
    tta=tta_option, workers=workers_option, on_error=on_error_option, cluster=cluster_option
)
def embed_options(
    tta: bool,
    workers: int | None,
    on_error: str,
    cluster: str | None,
    batch_size: Annotated[
        int, typer.Option(help="Objects per forward pass.", min=1)
    ] = EMBED_BATCH_SIZE,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, …")] = DEVICE,
    partition_rows: Annotated[
        int, typer.Option(help="With --cluster: objects in each task of a worker.", min=1)
    ] = PARTITION_ROWS,
) -> EmbedOptions:
    from morphospace.embed.options import EmbedOptions

    return EmbedOptions(
        tta, batch_size, device, workers, on_error,  # type: ignore[arg-type]
        cluster=cluster, partition_rows=partition_rows,
    )  # fmt: skip


@with_options(join=join_options, cluster=cluster_option)
def report_options(
    join: CatalogueJoin | None,
    cluster: str | None,
    map_method: Annotated[str, typer.Option("--map", help="2-D map: umap, tsne or pca.")] = (
        MAP_METHOD
    ),
    clusters: Annotated[
        int | None,
        typer.Option("-k", "--clusters", help="k-means clusters (default: by silhouette).", min=1),
    ] = None,
    colour_by: Annotated[
        list[str] | None,
        typer.Option("--colour-by", help="Also colour the maps by this column (or --color-by)."),
    ] = None,
    color_by: Annotated[
        list[str] | None, typer.Option("--color-by", hidden=True)  # the American spelling
    ] = None,
    tensorboard: Annotated[
        bool, typer.Option(help="Also write a TensorBoard projector log (report/tensorboard).")
    ] = False,
    page_objects: Annotated[
        int,
        typer.Option(help="Most objects the page shows (a sample of more).", min=100),
    ] = PAGE_OBJECTS,
) -> ReportOptions:
    from morphospace.report.options import ReportOptions

    return ReportOptions(
        map=map_method,  # type: ignore[arg-type]  # checked by ReportOptions
        clusters=clusters,
        colour_by=[*(colour_by or ()), *(color_by or ())],
        join=join,
        tensorboard=tensorboard,
        page_objects=page_objects,
        cluster=cluster,
    )


# --- where an answer goes --------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerTo:
    """Where ``similar``, ``anomalies`` and ``label`` write their answer: a table file (its
    format checked before any work) and the gallery's PNG (beside the table by default)."""

    table: Path | None
    gallery: Path | None

    def __post_init__(self) -> None:
        from morphospace.report.export import table_format

        if self.table is not None:
            table_format(self.table)

    def write(self, found) -> None:
        """Print the answer, write its table if asked, and say where the gallery is."""
        from morphospace.report.export import write_rows

        typer.echo(found.format())
        if self.table is not None:
            typer.echo(f"table: {write_rows(found.rows, self.table)}")
        typer.echo(f"gallery: {found.gallery}")


def answer_options(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write the answer as a table: .csv, .vot, .ecsv, .fits."
        ),
    ] = None,
    gallery: Annotated[
        Path | None, typer.Option("--gallery", help="Gallery PNG (default: beside the table).")
    ] = None,
) -> AnswerTo:
    return AnswerTo(output, gallery)


# --- training --------------------------------------------------------------------------------


@dataclass
class TrainingRequest:
    """What the training options of ``train`` and ``run`` resolve to."""

    settings: Settings
    output: Path
    resume: bool
    progress: bool
    stop_after: int | None = None


def catalogue_options(
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="CSV, ECSV, FITS table or VOTable of positions."),
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
) -> CatalogueCut | None:
    """A map's objects named by a catalogue (None without ``--catalog``)."""
    given = [size, size_col, ra_col, dec_col, x_col, y_col, name_col, frame]
    if catalog is None:
        if any(v is not None for v in given):
            raise InputError("--catalog", "the cutout options (--size, --ra-col, …) need --catalog")
        return None
    if pixel_origin not in (0, 1):
        raise InputError("--pixel-origin", "must be 0 or 1")
    if size is None and size_col is None:
        raise InputError("--size", "give --size or --size-col")
    from morphospace.io.cutouts import CatalogueCut

    return CatalogueCut(
        catalog, size, size_col, size_unit, ra_col, dec_col, x_col, y_col, name_col, frame,
        pixel_origin,  # type: ignore[arg-type]  # checked above
    )  # fmt: skip


def sources_of(data: list[str] | None, cut: CatalogueCut | None, folder: Path) -> list[str] | None:
    """The sources a command reads: ``data``, or, with ``--catalog``, the objects of the one
    map in ``data`` cut while read (their index written into ``folder``)."""
    if cut is None or not data:
        return list(data) if data else None
    if len(data) != 1:
        raise InputError("--catalog", f"cuts one map; {len(data)} were given")
    return [str(cut.stack(data[0], folder))]


@with_options(progress=progress_option, cut=catalogue_options)
def training_options(
    progress: bool,
    cut: CatalogueCut | None,
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
            metavar="KEY=VALUE",
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
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda, cuda:1, … (train.device).")
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this earlier run's model and fine-tune it."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in OUTPUT where it stopped.")
    ] = False,
    stop_after: Annotated[
        int | None,
        typer.Option(help="Train at most N epochs now; --resume continues later.", min=1),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a trained model already in OUTPUT.")
    ] = False,
) -> TrainingRequest:
    """Resolved settings for a training run in ``output``, after checking nothing is lost.

    A headline flag sets its setting as ``--set`` would; a flag not given changes
    nothing, and a flag and a ``--set`` of the same key that disagree are refused.
    """
    if data:  # a bad path is said before torch and the settings are loaded (seconds)
        from morphospace.io.sources import find_sources

        find_sources(list(data))
    from morphospace.config import load_settings, parse_assignments

    if (output / "model.safetensors").exists() and not (resume or overwrite):
        raise InputError(
            str(output), "already holds a trained model; use --resume to continue it or --overwrite"
        )
    if resume and not (output / "checkpoints" / "last.pt").exists():
        raise InputError(str(output), "nothing to resume: no checkpoints/last.pt in this folder")
    if config is None and resume and (output / "config.toml").exists():
        config = output / "config.toml"  # continue with the settings the run started with
    if cut is not None and not resume:
        data = sources_of(data, cut, output / "sources")  # the map's objects, cut as read
    headline = {
        ("DATA", "data.sources"): list(data) if data else None,
        ("--epochs", "train.epochs"): epochs,
        ("--backbone", "model.backbone"): backbone,
        ("--view-size", "augment.view_size"): view_size,
        ("--device", "train.device"): device,
        ("--init", "finetune.from_run"): str(init) if init else None,
    }
    overrides = parse_assignments(assignments or [])
    for (flag, key), value in headline.items():
        if value is None:
            continue  # a flag not given changes nothing
        if key in overrides and overrides[key] != value:
            raise InputError(
                flag, f"says {value!r} but --set {key}={overrides[key]!r}: give one of them"
            )
        overrides[key] = value
    settings = load_settings(config, overrides, base=_architecture_of(overrides))
    return TrainingRequest(settings, output, resume, progress, stop_after)


def _architecture_of(overrides: dict[str, Any]) -> dict[str, Any]:
    """With ``--init``, the earlier model's architecture in place of the defaults."""
    from morphospace.models import read_model_card
    from morphospace.train.transfer import architecture_of

    earlier = overrides.get("finetune.from_run")
    return {} if earlier is None else architecture_of(read_model_card(Path(earlier)))
