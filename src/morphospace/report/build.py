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

from morphospace.embed import EmbeddingTable, object_id
from morphospace.errors import InputError
from morphospace.explore import Clusters, SimilarityIndex, anomaly_scores, cluster, project
from morphospace.explore.search import normalise
from morphospace.files import safe_filename
from morphospace.io import ImageMeta
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
    """The table with its new columns, the files written and any thumbnail problems."""

    table: EmbeddingTable
    folder: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def explore(
    table: EmbeddingTable, *, method: str = "umap", k: int | None = None, seed: int = 0
) -> tuple[EmbeddingTable, Clusters]:
    """Add the 2-D map, the clusters and the anomaly scores to a table."""
    if len(table) == 0:
        raise InputError("embeddings", "the table is empty")
    xy = project(table.embeddings, method, seed)
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
    explored.info = {**table.info, "map": method, "k": groups.k}
    return explored, groups


JOIN_KEYS = ("id", "name", "object", "path", "file")


def read_join_table(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A CSV of extra columns and the columns that may identify objects in it."""
    path = Path(path)
    try:
        extra = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        problem = " ".join(str(exc).split())[:150]
        raise InputError(path, f"cannot read the table ({problem})") from None
    keys = [c for c in JOIN_KEYS if c in extra.columns]
    if not keys:
        raise InputError(path, f"needs a column naming the objects: one of {', '.join(JOIN_KEYS)}")
    return extra, keys


def join_columns(table: EmbeddingTable, path: str | Path) -> EmbeddingTable:
    """Add the columns of a CSV (labels, catalogue values) to a table.

    Rows are matched by object id (the file name without its FITS suffix) through whichever
    of the CSV's ``id``, ``name``, ``object``, ``path`` or ``file`` columns matches most.
    """
    extra, keys = read_join_table(path)
    ids = table.rows["id"].astype(str)
    matched = _rows_by_object(extra, keys, ids, path)
    new = [c for c in extra.columns if c not in table.rows.columns and c not in JOIN_KEYS]
    return table.with_columns({c: matched[c].reindex(ids).to_numpy() for c in new})


def joined_column(table: EmbeddingTable, path: str | Path, column: str) -> np.ndarray:
    """One column of a CSV, one value per object of ``table``, matched as
    :func:`join_columns` matches (missing where no row names the object). The file's values
    win over a column of that name already in the table."""
    extra, keys = read_join_table(path)
    if column not in extra.columns:
        close = ", ".join(list(extra.columns)[:12])
        raise InputError(path, f"has no column {column!r} (columns: {close})")
    ids = table.rows["id"].astype(str)
    values = _rows_by_object(extra, keys, ids, path)[column].reindex(ids).to_numpy()
    if pd.isna(values).all():
        raise InputError(path, f"column {column!r} matches no embedded object")
    return values


def _rows_by_object(
    extra: pd.DataFrame, keys: list[str], ids: pd.Series, path: str | Path
) -> pd.DataFrame:
    """The CSV's rows indexed by the object id they name, through the key column that
    names the most objects."""
    best, best_hits = None, 0
    for column in keys:
        stems = extra[column].map(lambda v: object_id(str(v)))
        hits = int(ids.isin(set(stems)).sum())
        if hits > best_hits:
            best, best_hits = stems, hits
    if best is None:
        raise InputError(path, f"no row names an embedded object (tried columns {', '.join(keys)})")
    return extra.assign(_key=best).drop_duplicates("_key").set_index("_key")


def check_report_options(
    join: str | Path | None, colour_by: list[str] | None, ids: list[str] | None = None
) -> None:
    """Fail early (before any training) on a join table or colour column that cannot work.

    With the ``ids`` of the objects to come, a join table none of whose rows names one of
    them fails too.
    """
    columns = set(read_join_table(join)[0].columns) if join is not None else set()
    if join is not None and ids:
        extra, keys = read_join_table(join)
        wanted = set(ids)
        if not any(extra[key].map(lambda v: object_id(str(v))).isin(wanted).any() for key in keys):
            raise InputError(
                join, f"no row names one of the objects (tried columns {', '.join(keys)})"
            )
    known = columns | set(STANDARD_COLUMNS)
    for name in colour_by or []:
        if name not in known:
            raise InputError(str(join or "--colour-by"), f"no column {name!r} to colour by")


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
    join : path, optional
        A CSV whose columns are added to the table (matched by ``id`` or file name).
    tensorboard : bool
        Also write a TensorBoard projector log into ``out_dir/tensorboard``.
    update_table : bool
        Write the new columns back into ``table_path``.
    """
    table_path, out = Path(table_path), Path(out_dir)
    table = EmbeddingTable.read(table_path)
    if join is not None:
        table = join_columns(table, join)
    missing = [c for c in colour_by or [] if c not in table.rows.columns and c not in CATEGORICAL]
    if missing:
        known = ", ".join(c for c in table.rows.columns if c != "id")
        raise InputError(table_path, f"no column {missing[0]!r} to colour by (columns: {known})")
    table, groups = explore(table, method=method, k=k, seed=seed)
    if update_table:
        table.write(table_path)
    rows = table.rows
    out.mkdir(parents=True, exist_ok=True)
    thumbs, problems = thumbnails_of(rows, workers, framing_of(table.info.get("preprocess")))
    result = ReportResult(table, out, problems=problems)
    xy = rows[["x", "y"]].to_numpy(dtype=float)
    emb = table.embeddings

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
        meta_columns = [c for c in ("id", "object", "cluster", "anomaly_rank") if c in rows]
        meta_columns += [c for c in colour_by or [] if c not in meta_columns]
        result.files.append(export_projector(out / "tensorboard", emb, rows[meta_columns], thumbs))
    return result
