"""The whole pipeline in one call: train, embed, report (``morphospace run``), and the demo.

result = run_pipeline(load_settings(None, {"data.sources": ["data/"]}), "runs/disks",
                      report=ReportOptions(map="pca"))
print(result.report.folder / "index.html")
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from morphospace.config import Settings, load_settings
from morphospace.embed import Embedder, EmbeddingTable, unique_ids
from morphospace.embed.options import EmbedOptions
from morphospace.embed.shards import embed_in_shards
from morphospace.embed.table import DATASET_INFO, is_dataset, unused_id
from morphospace.errors import InputError
from morphospace.explore.table import RunTable
from morphospace.files import folder_lock
from morphospace.io import Problem, find_sources, take_inventory, write_problems
from morphospace.report import ReportResult, build_report
from morphospace.report.build import check_report_options
from morphospace.report.options import ReportOptions
from morphospace.train import Trainer, TrainResult

__all__ = [
    "EmbedResult",
    "RunResult",
    "demo",
    "embed_run",
    "header_rows",
    "run_pipeline",
    "training_sources",
]


@dataclass
class EmbedResult:
    """Where the table went, the table itself and the files that were skipped."""

    path: Path
    table: EmbeddingTable
    problems: list[Problem]


@dataclass
class RunResult:
    """Everything one ``run`` produced."""

    run_dir: Path
    training: TrainResult
    embeddings: EmbedResult | None  # None while training stopped early (stop_after)
    report: ReportResult | None


def training_sources(run_dir: Path) -> list[str]:
    """The data a run was trained on, from its ``config.toml``."""
    config = run_dir / "config.toml"
    if not config.exists():
        raise InputError(run_dir, "no config.toml, so no recorded data: name the DATA to embed")
    sources = load_settings(config).data.sources
    if not sources:
        raise InputError(config, "records no data sources: name the DATA to embed")
    return sources


def embed_run(
    run_dir: str | Path,
    sources: list[str] | None = None,
    output: str | Path | None = None,
    *,
    options: EmbedOptions | None = None,
    npy: bool = False,
    progress: bool = False,
    overwrite: bool = False,
    append: bool = False,
) -> EmbedResult:
    """Embed objects with a trained run's model and write the Parquet table.

    ``sources`` default to the run's training data; ``output`` to
    ``RUN/embeddings.parquet``; ``options`` (test-time averaging, device, batch size,
    reader processes, what to do with bad files) to :class:`EmbedOptions`' defaults.
    Preprocessed objects are shared with training through ``RUN/cache``. Skipped files
    are listed in ``embed_skipped.csv`` beside the table.

    An existing table is never replaced unless ``overwrite``. With ``append``, the objects
    it does not hold yet are added to it: placed on its map, given their nearest clusters,
    and its own rows left exactly as they were (the result's table is then the new rows).
    """
    run_dir = Path(run_dir)
    options = options or EmbedOptions()
    embedder = Embedder.from_run(
        run_dir, tta=options.tta, batch_size=options.batch_size, device=options.device
    )
    output = Path(output) if output is not None else run_dir / "embeddings.parquet"
    if output.suffix.lower() != ".parquet":
        raise InputError(output, "the embedding table must be a .parquet file")
    if overwrite and append:
        raise InputError("--append", "adds to the table, so it cannot go with --overwrite")
    if append and options.cluster is not None:
        raise InputError("--append", "adds to a single-file table here; drop --cluster")
    unfinished = is_dataset(output) and not (output / DATASET_INFO).exists()
    if output.exists() and not (overwrite or append or unfinished):
        raise InputError(
            output,
            "already holds an embedding table; write another with -o, replace it with "
            "--overwrite, or add new objects to it with --append",
        )
    with folder_lock(output.parent, "embed"):
        return _embed_into(embedder, run_dir, sources, output, options, npy, progress, append)


def _embed_into(
    embedder: Embedder,
    run_dir: Path,
    sources: list[str] | None,
    output: Path,
    options: EmbedOptions,
    npy: bool,
    progress: bool,
    append: bool,
) -> EmbedResult:
    old = RunTable.open(output) if append and output.exists() else None
    sources = sources or training_sources(run_dir)
    if old is not None:
        check_same_model(old, embedder, output)
        held = {Path(p).resolve() for p in old.column("path")}
        sources = [p for p in find_sources(sources) if p.resolve() not in held]
        if not sources:
            raise InputError(output, "already holds every one of these objects")
    paths = find_sources(sources)
    if old is None and (options.cluster is not None or len(paths) > options.shard_rows):
        return _embed_in_shards(embedder, run_dir, paths, output, options, npy, progress)
    table, problems = embedder.embed(
        paths,
        progress=progress,
        on_error=options.on_error,
        cache_dir=run_dir / "cache",
        workers=options.workers,
    )
    if old is None:
        if is_dataset(output):  # --overwrite of a sharded table with a small one
            shutil.rmtree(output)
        table.write(output)
    else:
        table = old.place(renamed_apart(table, old))
        table.append_to(output)
    if npy:
        EmbeddingTable.read(output).save_npy(output.with_suffix(".npy"))
    if problems:
        write_problems(problems, output.parent / "embed_skipped.csv")
    return EmbedResult(output, table, problems)


def _embed_in_shards(
    embedder: Embedder,
    run_dir: Path,
    paths: list[Path],
    output: Path,
    options: EmbedOptions,
    npy: bool,
    progress: bool,
) -> EmbedResult:
    """Embed ``paths`` into the sharded table ``output``, each shard written as soon as it
    is done (here, or by the workers of ``options.cluster``), so a stopped embedding
    resumes at the first shard missing, with no object lost or written twice."""
    problems = embed_in_shards(
        embedder, paths, output, options, cache_dir=run_dir / "cache", progress=progress
    )
    if npy:
        EmbeddingTable.read(output).save_npy(output.with_suffix(".npy"))
    if problems:
        write_problems(problems, output.parent / "embed_skipped.csv")
    return EmbedResult(output, EmbeddingTable.read(output), problems)


def check_same_model(old: RunTable, embedder: Embedder, path: Path) -> None:
    """Refuse to add vectors of one model to a table of another's."""
    recorded = old.info.get("model_sha256")
    if recorded is not None and recorded != embedder.settings["model_sha256"]:
        raise InputError(
            path, "was embedded with another model; append with that run, or write a new table"
        )


def renamed_apart(new: EmbeddingTable, old: RunTable) -> EmbeddingTable:
    """``new`` with any id the old table already uses made unique (``name_2``, …)."""
    used = set(old.ids)
    return new.with_columns({"id": [unused_id(wanted, used) for wanted in new.ids]})


def run_pipeline(
    settings: Settings,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    stop_after: int | None = None,
    tta: bool = True,
    report: ReportOptions | None = None,
    announce: Callable[[str], None] | None = None,
) -> RunResult:
    """Train on ``settings.data.sources``, embed the same objects and write the report.

    The objects are embedded on the device training ran on (``train.device``), with the
    training's rule for bad files (``data.on_error``), and averaged over rotations and
    flips unless ``tta`` is False; on the Dask cluster ``report.cluster`` names, if any,
    which also places them on the map. A catalogue to join (``report.join``) is matched to
    the objects' headers before training starts, and ``announce`` is told how many
    matched. With ``stop_after``, training may stop early: ``resume`` continues it, then
    embeds and reports.
    """
    run_dir = Path(run_dir)
    report = report or ReportOptions()
    objects = header_rows(settings) if report.join is not None else None
    matched = check_report_options(report, objects)
    if matched is not None and announce is not None:
        announce(matched.summary(report.join.path))
    training = Trainer(
        settings, run_dir, resume=resume, progress=progress, stop_after=stop_after
    ).fit()
    if not training.finished:  # embedding and report wait for the rest of the schedule
        return RunResult(run_dir, training, None, None)
    embedding = EmbedOptions(
        tta=tta,
        device=settings.train.device,
        on_error=settings.data.on_error,
        cluster=report.cluster,  # the workers that place the objects embed them too
    )
    embedded = embed_run(
        run_dir,
        settings.data.sources,
        options=embedding,
        overwrite=True,  # the run's own table, of the model just trained
        progress=progress,
    )
    reported = build_report(embedded.path, run_dir / "report", report, progress=progress)
    return RunResult(run_dir, training, embedded, reported)


def header_rows(settings: Settings) -> pd.DataFrame:
    """The metadata of the objects ``settings`` trains on, one row each, read from their
    headers: ``id`` as the embedding table will give it, ``object``, ``ra``, ``dec``, …"""
    inventory = take_inventory(
        settings.data.sources,
        hdu=settings.data.hdu,
        min_side=settings.data.min_side,
        on_error="skip",
    )
    rows = pd.DataFrame([meta.as_row() for meta in inventory.metas])
    if rows.empty:
        return pd.DataFrame(columns=["id", "object", "ra", "dec"])
    rows.insert(0, "id", unique_ids(rows["path"].tolist(), rows["hdu"].tolist()))
    return rows


DEMO_OBJECTS = 400
DEMO_EPOCHS = 30


def demo(
    output: str | Path = "demo-output",
    *,
    n: int = DEMO_OBJECTS,
    epochs: int = DEMO_EPOCHS,
    seed: int = 0,
    progress: bool = False,
) -> RunResult:
    """Synthetic disks, clouds and cubes, then train, embed and report on them.

    Writes ``OUTPUT/data`` (FITS files and ``labels.csv``) and ``OUTPUT/run`` (the model,
    ``embeddings.parquet`` and ``report/index.html``); the report is coloured by the true
    classes too, so the maps can be checked by eye.
    """
    from morphospace.synth import synthesize

    output = Path(output)
    labels = synthesize(output / "data", n, cubes=True, seed=seed)
    settings = load_settings(
        None,
        {"data.sources": [str(output / "data" / "images")], "train.epochs": epochs},
    )
    return run_pipeline(
        settings,
        output / "run",
        progress=progress,
        report=ReportOptions(join=labels, colour_by=["class"]),
    )
