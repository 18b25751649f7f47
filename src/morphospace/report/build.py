"""``morphospace report``: explore an embedding table and write the figures and the page.

The map coordinates, cluster labels and anomaly scores are written back into the
embedding table as columns (``x``, ``y``, ``cluster``, ``cluster_hdbscan``,
``cluster_agglomerative``, ``anomaly``, ``anomaly_rank``, …), atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from morphospace.embed import EmbeddingTable
from morphospace.errors import InputError
from morphospace.explore import Clusters, SimilarityIndex, anomaly_scores, cluster
from morphospace.explore.maps import Map, map_file
from morphospace.explore.search import normalise
from morphospace.files import folder_lock, safe_filename
from morphospace.io import ImageMeta
from morphospace.io.catalogue import CatalogueJoin, CatalogueMatch, join_columns
from morphospace.progress import stages
from morphospace.report import figures
from morphospace.report.html import CATEGORICAL, write_page
from morphospace.report.tensorboard import export_projector
from morphospace.report.thumbnails import framing_of, thumbnails_of

STANDARD_COLUMNS = (
    *ImageMeta("", 0, "", ()).as_row(),
    "id",
    "cluster",
    "cluster_hdbscan",
    "cluster_agglomerative",
    "anomaly",
    "anomaly_rank",
    "x",
    "y",
)


@dataclass
class ReportResult:
    """The table with its new columns, the files written, any thumbnail problems and how a
    joined catalogue matched."""

    table: EmbeddingTable
    folder: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    join: str | None = None  # CatalogueMatch.summary of the joined catalogue


def explore(
    table: EmbeddingTable, *, method: str = "umap", k: int | None = None, seed: int = 0
) -> tuple[EmbeddingTable, Clusters, Map]:
    """Add the 2-D map, the clusters and the anomaly scores to a table; also returns the
    clusters and the fitted map (which places objects added later)."""
    if len(table) == 0:
        raise InputError("embeddings", "the table is empty")
    fitted = Map(method, seed)
    xy = fitted.fit(table.embeddings)
    groups = cluster(table.embeddings, k=k, seed=seed)
    scores = anomaly_scores(table.embeddings, seed=seed)
    columns = {
        "x": xy[:, 0],
        "y": xy[:, 1],
        "cluster": groups.kmeans,
        "cluster_hdbscan": groups.hdbscan,
        "cluster_agglomerative": groups.agglomerative,
        **{name: scores[name].to_numpy() for name in scores.columns},
    }
    explored = table.with_columns(columns)
    explored.info = {**table.info, "map": method, "k": groups.k, "map_token": fitted.token}
    return explored, groups, fitted


CLUSTER_COLUMNS = ("cluster", "cluster_hdbscan", "cluster_agglomerative")


def place_new_objects(
    old: EmbeddingTable, new: EmbeddingTable, table_path: str | Path
) -> EmbeddingTable:
    """New objects as rows for an explored table: placed on its saved map by the map's own
    ``transform``, each in its nearest k-means cluster (by the clusters' mean directions) and
    in the HDBSCAN and Ward groups of its nearest old object. A table never explored (no
    ``x``) has nothing to place them on, and ``new`` comes back as it is."""
    if "x" not in old.rows.columns or len(new) == 0:
        return new
    path = map_file(table_path)
    fitted = Map.load(path)
    if fitted.token != old.info.get("map_token"):
        raise InputError(path, "is not the map of this table; run 'morphospace report' again")
    xy = fitted.transform(new.embeddings)
    columns: dict[str, np.ndarray] = {"x": xy[:, 0], "y": xy[:, 1]}
    fresh, known = normalise(new.embeddings), normalise(old.embeddings)
    if "cluster" in old.rows.columns:
        groups = old.rows["cluster"].to_numpy()
        names = np.unique(groups)
        centres = normalise(np.stack([known[groups == g].mean(axis=0) for g in names]))
        columns["cluster"] = names[np.argmax(fresh @ centres.T, axis=1)]
    nearest = SimilarityIndex(old.embeddings).query(new.embeddings, 1)[0][:, 0]
    for name in CLUSTER_COLUMNS[1:]:
        if name in old.rows.columns:
            columns[name] = old.rows[name].to_numpy()[nearest]
    return new.with_columns(columns)


def check_report_options(
    join: str | Path | CatalogueJoin | None,
    colour_by: list[str] | None,
    objects: pd.DataFrame | None = None,
) -> CatalogueMatch | None:
    """Fail early (before any training) on a join or colour column that cannot work.

    With the ``objects`` to come (``id``, ``object``, ``ra``, ``dec``), the join is matched
    to them: it fails when it matches fewer than half of them, and the match is returned.
    """
    join = CatalogueJoin.of(join)
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
    for name in colour_by or []:
        if name not in known:
            where = join.path if join is not None else "--colour-by"
            raise InputError(where, f"no column {name!r} to colour by")
    return found


def central_members(embeddings: np.ndarray, members: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` members, most typical first (nearest the group's mean direction)."""
    x = normalise(embeddings[members])
    centre = normalise(x.mean(axis=0, keepdims=True))[0]
    order = np.argsort(-(x @ centre))
    return [int(i) for i in members[order[:count]]]


def build_report(
    table_path: str | Path,
    out_dir: str | Path,
    *,
    method: str = "umap",
    k: int | None = None,
    colour_by: list[str] | None = None,
    join: str | Path | None = None,
    tensorboard: bool = False,
    neighbours: int = 12,
    seed: int = 0,
    workers: int | None = None,
    update_table: bool = True,
    progress: bool = False,
) -> ReportResult:
    """Explore the embeddings in ``table_path`` and write the report into ``out_dir``.

    Parameters
    ----------
    table_path : path
        An embedding table from ``morphospace embed``.
    out_dir : path
        Folder for ``index.html`` and the PNG figures.
    method : {"umap", "tsne", "pca"}
        The 2-D map.
    k : int, optional
        Number of k-means clusters; chosen by silhouette score when not given.
    colour_by : list of str, optional
        Extra columns to colour the maps by (any column of the table or of ``join``).
    join : path or CatalogueJoin, optional
        A catalogue (CSV, ECSV, FITS or VOTable) whose columns are added to the table,
        matched by sky position, OBJECT name or file name (see
        :mod:`morphospace.io.catalogue`).
    tensorboard : bool
        Also write a TensorBoard projector log into ``out_dir/tensorboard``.
    update_table : bool
        Write the new columns back into ``table_path``.
    progress : bool
        Show a progress bar (when the report takes more than a second).
    """
    with (
        folder_lock(Path(table_path).parent, "report"),
        stages("report", 5 + tensorboard, progress) as stage,
    ):
        return _build_report(
            Path(table_path), Path(out_dir), stage, method=method, k=k, colour_by=colour_by,
            join=join, tensorboard=tensorboard, neighbours=neighbours, seed=seed,
            workers=workers, update_table=update_table,
        )  # fmt: skip


def _build_report(
    table_path: Path,
    out: Path,
    stage,
    *,
    method: str,
    k: int | None,
    colour_by: list[str] | None,
    join,
    tensorboard: bool,
    neighbours: int,
    seed: int,
    workers: int | None,
    update_table: bool,
) -> ReportResult:
    table = EmbeddingTable.read(table_path)
    matched = None
    if join is not None:
        table, matched = join_columns(table, join)
    missing = [c for c in colour_by or [] if c not in table.rows.columns and c not in CATEGORICAL]
    if missing:
        known = ", ".join(c for c in table.rows.columns if c != "id")
        raise InputError(table_path, f"no column {missing[0]!r} to colour by (columns: {known})")
    stage(f"{method} map, clusters and anomalies")
    table, groups, fitted = explore(table, method=method, k=k, seed=seed)
    if update_table:
        fitted.save(map_file(table_path))
        table.write(table_path)
    rows = table.rows
    out.mkdir(parents=True, exist_ok=True)
    stage("thumbnails")
    thumbs, problems = thumbnails_of(rows, workers, framing_of(table.info.get("preprocess")))
    result = ReportResult(table, out, problems=problems)
    if matched is not None:
        result.join = matched.summary(CatalogueJoin.of(join).path)
    xy = rows[["x", "y"]].to_numpy(dtype=float)
    emb = table.embeddings

    stage("figures")
    result.files.append(figures.thumbnail_map(xy, thumbs, out / "thumbnail_map.png"))
    for name in dict.fromkeys(["cluster", "anomaly", *(colour_by or [])]):
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
    top = np.argsort(rows["anomaly_rank"].to_numpy())[:24]
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
    index = SimilarityIndex(emb)
    near, similarity = index.neighbours(min(neighbours, max(len(table) - 1, 0)))
    result.files.append(
        write_page(
            out / "index.html",
            title=f"morphospace: {table_path.stem} ({len(table)} objects)",
            rows=rows,
            thumbs=thumbs,
            neighbours=near,
            similarity=similarity,
        )
    )
    if tensorboard:
        stage("TensorBoard projector")
        meta_columns = [c for c in ("id", "object", "cluster", "anomaly_rank") if c in rows]
        meta_columns += [c for c in colour_by or [] if c not in meta_columns]
        result.files.append(export_projector(out / "tensorboard", emb, rows[meta_columns], thumbs))
    return result
