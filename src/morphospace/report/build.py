"""``morphospace report``: explore an embedding table and write the figures and the page.

The map coordinates, cluster labels and anomaly scores are written back into the
embedding table as columns (``x``, ``y``, ``cluster``, ``cluster_hdbscan``,
``cluster_agglomerative``, ``anomaly``, ``anomaly_rank``, …), atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from morphospace.errors import InputError
from morphospace.explore.clusters import Clusters, central_members
from morphospace.explore.table import CLUSTER_COLUMNS, SCORE_COLUMNS, RunTable
from morphospace.files import folder_lock, safe_filename
from morphospace.io import ImageMeta
from morphospace.io.catalogue import CatalogueMatch
from morphospace.progress import stages
from morphospace.report import figures
from morphospace.report.html import CATEGORICAL, write_page
from morphospace.report.options import ReportOptions
from morphospace.report.tensorboard import export_projector
from morphospace.report.thumbnails import thumbnails_of

__all__ = ["STANDARD_COLUMNS", "ReportResult", "build_report", "check_report_options"]

ANOMALIES_SHOWN = 24  # the gallery of the most anomalous objects

#: The columns every reported table has: the header metadata, and what ``report`` adds.
STANDARD_COLUMNS = (
    *ImageMeta("", 0, "", ()).as_row(),
    "id",
    *CLUSTER_COLUMNS,
    *SCORE_COLUMNS,
    "x",
    "y",
)


@dataclass
class ReportResult:
    """The table with its new columns, the files written, any thumbnail problems and how a
    joined catalogue matched."""

    table: RunTable
    folder: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    join: str | None = None  # CatalogueMatch.summary of the joined catalogue


def check_report_options(
    options: ReportOptions, objects: pd.DataFrame | None = None
) -> CatalogueMatch | None:
    """Fail early (before any training) on a join or colour column that cannot work.

    With the ``objects`` to come (``id``, ``object``, ``ra``, ``dec``), the join is matched
    to them: it fails when it matches fewer than half of them, and the match is returned.
    """
    join = options.join
    columns = set(join.columns()) if join is not None else set()
    found = None
    if join is not None and objects is not None and len(objects):
        found = join.match(objects)[1]
        if found.matched * 2 < len(objects):
            raise InputError(
                join.path,
                f"matches only {found.matched} of {len(objects)} objects (by {found.method}); "
                "name the columns to match with --join-on, or widen --match-radius",
            )
    known = columns | set(STANDARD_COLUMNS)
    for name in options.colour_by:
        if name not in known:
            where = join.path if join is not None else "--colour-by"
            raise InputError(where, f"no column {name!r} to colour by")
    return found


def build_report(
    table_path: str | Path,
    out_dir: str | Path,
    options: ReportOptions | None = None,
    *,
    progress: bool = False,
) -> ReportResult:
    """Explore the embeddings in ``table_path`` and write the report into ``out_dir``.

    Parameters
    ----------
    table_path : path
        An embedding table from ``morphospace embed``.
    out_dir : path
        Folder for ``index.html`` and the PNG figures.
    options : ReportOptions, optional
        The map, the clusters, a catalogue to join, what to colour by, …; the defaults
        when not given.
    progress : bool
        Show a progress bar (when the report takes more than a second).
    """
    options = options or ReportOptions()
    with (
        folder_lock(Path(table_path).parent, "report"),
        stages("report", 5 + options.tensorboard, progress) as stage,
    ):
        return _build_report(Path(table_path), Path(out_dir), options, stage)


def _sampled(table: RunTable, shown: int) -> str:
    """ ", map fitted on 100000, 10000 shown" when the map and clusters were fitted on a
    sample and the page shows a sample."""
    fit = table.info.get("fit_sample", len(table))
    return (f", map fitted on {fit}" if fit < len(table) else "") + (
        f", {shown} shown" if shown < len(table) else ""
    )


def _shown(table: RunTable, most: int, seed: int) -> np.ndarray | None:
    """The objects a page of a table larger than ``most`` shows: its most anomalous and a
    seeded random sample of the rest, in table order; None for all."""
    n = len(table)
    if n <= most:
        return None
    top = np.argsort(table.column("anomaly_rank"))[:ANOMALIES_SHOWN]
    rest = np.setdiff1d(np.arange(n), top)
    sample = np.random.default_rng(seed).choice(rest, most - len(top), replace=False)
    return np.sort(np.concatenate([top, sample]))


def _restricted(groups: Clusters, shown: np.ndarray) -> Clusters:
    """The clusters of the objects shown (a hierarchy of micro-clusters keeps its tree)."""
    leaf_of = groups.leaf_of
    if leaf_of is not None and len(leaf_of) == len(groups.kmeans):
        leaf_of = leaf_of[shown]
    return replace(
        groups,
        kmeans=groups.kmeans[shown],
        hdbscan=groups.hdbscan[shown],
        agglomerative=groups.agglomerative[shown],
        leaf_of=leaf_of,
    )


def _build_report(table_path: Path, out: Path, options: ReportOptions, stage) -> ReportResult:
    table = RunTable.open(table_path)
    matched = None
    if options.join is not None:
        table, matched = table.join(options.join)
    colour_by = options.colour_by
    missing = [c for c in colour_by if c not in table.columns and c not in CATEGORICAL]
    if missing:
        known = ", ".join(c for c in table.columns if c != "id")
        raise InputError(table_path, f"no column {missing[0]!r} to colour by (columns: {known})")
    stage(f"{options.map} map, clusters and anomalies")
    table, groups, fitted = table.explore(
        options.map, options.clusters, options.seed, cluster=options.cluster
    )
    if options.update_table:
        table.write(fitted)
    every = table
    shown = _shown(table, options.page_objects, options.seed)
    if shown is not None:  # the page and figures of a large table: a sample
        table, groups = table.subset(shown), _restricted(groups, shown)
    rows = table.rows()
    out.mkdir(parents=True, exist_ok=True)
    stage("thumbnails")
    thumbs, problems = thumbnails_of(rows, options.workers, table.framing)
    result = ReportResult(every, out, problems=problems)
    if matched is not None:
        result.join = matched.summary(options.join.path)
    xy = rows[["x", "y"]].to_numpy(dtype=float)
    emb = table.vectors

    stage("figures")
    result.files.append(figures.thumbnail_map(xy, thumbs, out / "thumbnail_map.png"))
    for name in dict.fromkeys(["cluster", "anomaly", *colour_by]):
        categorical = name in CATEGORICAL or not pd.api.types.is_numeric_dtype(rows[name])
        result.files.append(
            figures.scatter_map(
                xy, rows[name].to_numpy(), out / f"map_{safe_filename(name)}.png", name, categorical
            )
        )
    clusters = sorted(np.unique(groups.kmeans))
    rows_of = [central_members(emb, np.flatnonzero(groups.kmeans == c), 8) for c in clusters]
    sizes = [int(np.sum(groups.kmeans == c)) for c in clusters]
    result.files.append(
        figures.gallery(
            thumbs,
            rows_of,
            out / "clusters.png",
            f"k-means clusters (k = {groups.k}), most typical members first",
            [f"cluster {c}\nn={s}" for c, s in zip(clusters, sizes, strict=True)],
        )
    )
    if groups.linkage is not None and len(groups.linkage) >= 1:
        result.files.append(
            figures.hierarchy_figure(
                groups.linkage,
                groups.leaf_of,
                thumbs,
                lambda members: central_members(emb, members, 1)[0],
                out / "hierarchy.png",
            )
        )
    top = np.argsort(rows["anomaly_rank"].to_numpy())[:ANOMALIES_SHOWN]
    result.files.append(
        figures.gallery(
            thumbs,
            figures.in_rows(top, 8),
            out / "anomalies.png",
            "most anomalous objects (combined rank of isolation forest, LOF and k-NN distance)",
            captions={int(i): f"#{rows['anomaly_rank'][i]} {rows['id'][i]}"[:22] for i in top},
        )
    )
    stage("the page")
    near, similarity = table.neighbours(options.neighbours)
    result.files.append(
        write_page(
            out / "index.html",
            title=f"morphospace: {table_path.stem} ({len(every)} objects"
            f"{_sampled(every, len(table))})",
            rows=rows,
            thumbs=thumbs,
            neighbours=near,
            similarity=similarity,
        )
    )
    if options.tensorboard:
        stage("TensorBoard projector")
        meta_columns = [c for c in ("id", "object", "cluster", "anomaly_rank") if c in rows]
        meta_columns += [c for c in colour_by if c not in meta_columns]
        result.files.append(export_projector(out / "tensorboard", emb, rows[meta_columns], thumbs))
    return result
