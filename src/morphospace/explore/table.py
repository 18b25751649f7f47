"""The table layer: one run's embedding table with everything built on it.

Every front end asks the same things of a table: the objects like this one, the most
unusual ones, a map and clusters, the user's labels and marks, a catalogue's columns, the
model that made the vectors. :class:`RunTable` answers them, once, for all of them::

    morphospace similar / anomalies / label ─┐
    open_run (morphospace.runs.Run) ─────────┤
    the explorer's server (app) ─────────────┼──► RunTable ──► EmbeddingTable (Parquet)
    the report (report.build) ───────────────┘

A table is reached by column (:meth:`RunTable.column`), by chosen rows
(:meth:`RunTable.rows`) and as vectors (:attr:`RunTable.vectors`), never as one frame
that a caller holds on to, so that a table larger than memory can stand behind the same
calls. What is derived from it (the search index, anomaly scores of a table without them,
the framing of its thumbnails) is made on first use and kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from morphospace.choices import (
    FIT_SAMPLE,
    MAP_METHOD,
    PROPAGATE_METHOD,
    SUGGEST,
    MapMethod,
    PropagateMethod,
    TriageOrder,
)
from morphospace.embed.table import (
    EmbeddingTable,
    find_table,
    read_columns,
    read_rows,
    table_columns,
)
from morphospace.errors import InputError
from morphospace.explore.anomalies import ANOMALY_NEIGHBOURS, CHUNK, anomaly_scores, rerank
from morphospace.explore.clusters import Clusters, cluster
from morphospace.explore.labels import LabelStore
from morphospace.explore.maps import PLACE_NEIGHBOURS, Map, map_file
from morphospace.explore.propagate import Propagation, propagate
from morphospace.explore.search import GRAPH_PAIRS, SimilarityIndex, normalise
from morphospace.explore.triage import triage_order
from morphospace.io.catalogue import CatalogueJoin, CatalogueMatch

if TYPE_CHECKING:
    from morphospace.embed import Embedder
    from morphospace.preprocess.chain import Crop

__all__ = ["CLUSTER_COLUMNS", "SCORE_COLUMNS", "RunTable"]

#: The anomaly columns that ``report`` writes (see :func:`~morphospace.explore.anomaly_scores`).
SCORE_COLUMNS = ("anomaly_iforest", "anomaly_lof", "anomaly_knn", "anomaly", "anomaly_rank")
#: The cluster columns that ``report`` writes: k-means, HDBSCAN and Ward.
CLUSTER_COLUMNS = ("cluster", "cluster_hdbscan", "cluster_agglomerative")
#: Chosen rows of columns not read yet are read from the shards that hold them, up to this
#: many rows; more read those columns whole (and keep them).
ROWS_APART = 1000


class RunTable:
    """A run's objects: their embedding table and what is built on it.

    Parameters
    ----------
    table : EmbeddingTable
        The objects: metadata, vectors and provenance.
    path : path, optional
        Where the table is kept (``RUN/embeddings.parquet``); :meth:`write` writes there.
    folder : path, optional
        Where the user's ``labels.csv`` and ``marks.csv`` are kept; the table's folder by
        default.

    A table opened with some of its ``columns`` (:meth:`open`) reads any other column the
    first time it is asked for, and the other columns of a few rows from the shards that
    hold them; everything that changes or writes the table reads it whole first.
    """

    def __init__(
        self,
        table: EmbeddingTable,
        path: str | Path | None = None,
        folder: str | Path | None = None,
    ):
        self._table = table
        self.path = Path(path) if path is not None else None
        if folder is None and self.path is not None:
            folder = self.path.parent
        self.folder = Path(folder) if folder is not None else None
        self._order: list[str] = []  # every column kept, when some are not read yet
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        target: str | Path,
        folder: str | Path | None = None,
        columns: Sequence[str] | None = None,
    ) -> RunTable:
        """The table of a run folder (``RUN/embeddings.parquet``), or a table file: every
        column, or ``columns`` (with ``id``, ``path`` and the vectors, always read) now and
        each other one when it is first used."""
        path = find_table(target)
        table = cls(EmbeddingTable.read(path, columns), path, folder)
        if columns is not None:
            table._order = table_columns(path)
        return table

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"<RunTable {self.path or 'in memory'}: {len(self)} objects>"

    # --- the objects ------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """What made the table: the model's digest, its run, the preprocessing, ``tta``, …"""
        return self._table.info

    @property
    def ids(self) -> list[str]:
        """Each object's id, in row order."""
        return self._table.ids

    @property
    def columns(self) -> list[str]:
        """The names of the table's columns (the vectors are :attr:`vectors`)."""
        return self._order or [str(name) for name in self._table.rows.columns]

    def column(self, name: str) -> np.ndarray:
        """One column, one value per object."""
        if name not in self.columns:
            known = ", ".join(self.columns)
            raise InputError(self._source, f"no such column {name!r} (columns: {known})")
        self._read([name])
        return self._table.rows[name].to_numpy()

    def rows(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The chosen rows (all by default) and columns (all by default), as a frame of
        their own: changing it leaves the table as it is."""
        wanted = list(columns) if columns is not None else self.columns
        unread = self._unread(wanted)
        if unread and indices is not None and len(indices) <= ROWS_APART:
            chosen = np.asarray(indices, dtype=int)
            read = self._table.rows[[c for c in wanted if c not in unread]].iloc[chosen]
            apart = read_rows(self.path, chosen, unread)
            apart.index = read.index
            return pd.concat([read, apart], axis=1)[wanted]
        self._read(unread)
        rows = self._table.rows[wanted] if columns is not None or self._order else self._table.rows
        if indices is not None:
            rows = rows.iloc[np.asarray(indices, dtype=int)]
        return rows.copy(deep=False)  # copy-on-write: nothing is copied until it changes

    def row(self, i: int) -> pd.Series:
        """The metadata of object ``i``; a :class:`KeyError` when the table has no such row."""
        if not 0 <= i < len(self):
            raise KeyError(i)
        return self.rows([i]).iloc[0] if self._order else self._table.rows.iloc[i]

    @property
    def vectors(self) -> np.ndarray:
        """The (N, D) embedding vectors, in row order."""
        return self._table.embeddings

    @property
    def embedding_table(self) -> EmbeddingTable:
        """The table itself, every column read."""
        return self._whole()

    def _unread(self, names: Sequence[str]) -> list[str]:
        loaded = self._table.rows.columns
        return [name for name in names if name not in loaded] if self._order else []

    def _read(self, names: Sequence[str]) -> None:
        """Read the named columns whole, where they are not read yet, and keep them."""
        if not self._unread(names):
            return
        with self._lock:
            unread = self._unread(names)
            if unread:
                found = read_columns(self.path, unread)
                rows = self._table.rows.assign(**{name: found[name] for name in unread})
                self._table.rows = rows[[c for c in self._order if c in rows.columns]]

    def _whole(self) -> EmbeddingTable:
        """The table with every column read."""
        self._read(self._order)
        return self._table

    def find(self, query: str | int) -> int:
        """The row of an object given by row number, id, OBJECT name or file name."""
        if isinstance(query, int | np.integer):
            if not 0 <= query < len(self):
                raise InputError(str(query), f"no such row (the run has {len(self)} objects)")
            return int(query)
        self._read(["object"])
        try:
            return self._table.find(str(query))
        except KeyError as exc:
            raise InputError(self._source, str(exc.args[0])) from None

    def subset(self, indices: Sequence[int] | np.ndarray) -> RunTable:
        """The chosen objects, in the order given, as a table of their own in memory (its
        labels and marks still read from this table's folder)."""
        chosen = np.asarray(indices, dtype=int)
        whole = self._whole()
        part = EmbeddingTable(
            whole.rows.iloc[chosen].reset_index(drop=True),
            whole.embeddings[chosen],
            dict(self.info),
        )
        return RunTable(part, None, self.folder)

    def with_columns(self, columns: dict[str, Any]) -> RunTable:
        """The same table, kept in the same place, with columns added or replaced."""
        return RunTable(self._whole().with_columns(columns), self.path, self.folder)

    def write(self, fitted: Map | None = None) -> Path:
        """Write the table where it is kept, atomically, with its fitted map beside it."""
        if self.path is None:
            raise InputError("table", "is not kept in a file: give it a path to write it")
        if fitted is not None:
            fitted.save(map_file(self.path))
        return self._whole().write(self.path)

    @cached_property
    def framing(self) -> Crop | None:
        """How the network's input was framed (the recorded chain's ``crop`` step), so that
        thumbnails show what the network saw; None when the chain has no crop."""
        from morphospace.preprocess.chain import framing_of

        return framing_of(self.info.get("preprocess"))

    # --- neighbours ------------------------------------------------------------------------

    @cached_property
    def index(self) -> SimilarityIndex:
        """The similarity search over the vectors, built on its first use."""
        return SimilarityIndex(self.vectors)

    def similar(self, query: int | np.ndarray, k: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` objects most similar to object ``query`` (itself left out) or to a
        vector: their rows and cosine similarities, most similar first."""
        if isinstance(query, int | np.integer):
            near, score = self.index.query(self.vectors[query], k, exclude=np.array([query]))
        else:
            near, score = self.index.query(query, k)
        return near[0], score[0]

    def more_like(self, of: Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` objects most like the mean direction of objects ``of`` (not themselves)."""
        query = normalise(normalise(self.vectors[list(of)]).mean(axis=0, keepdims=True))
        near, score = self.index.query(query, k + len(set(of)))
        keep = ~np.isin(near[0], of)
        return near[0][keep][:k], score[0][keep][:k]

    def neighbours(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other objects of every object (fewer in a table that small)."""
        return self.index.neighbours(min(k, max(len(self) - 1, 0)))

    # --- map, clusters and anomalies -------------------------------------------------------

    def explore(
        self,
        method: MapMethod = MAP_METHOD,
        k: int | None = None,
        seed: int = 0,
        sample: int = FIT_SAMPLE,
        cluster: str | None = None,
    ) -> tuple[RunTable, Clusters, Map]:
        """The table with its 2-D map, clusters and anomaly scores as columns (``x``, ``y``,
        :data:`CLUSTER_COLUMNS`, :data:`SCORE_COLUMNS`), the clusters, and the fitted map
        (which places objects added later: :meth:`place`).

        A table of more than ``sample`` objects has its map, clusters and detectors fitted
        on a seeded random sample of that many; the other objects are placed as
        :meth:`place` places new ones, and scored by the detectors fitted on the sample.
        ``info["fit_sample"]`` records how many objects the fit saw. With ``cluster``
        (``local:N`` or a scheduler's address), the workers of that Dask cluster place
        them, a chunk a task.
        """
        if len(self) == 0:
            raise InputError(self._source, "the table is empty")
        if len(self) > sample:
            return self._explore_from_sample(method, k, seed, sample, cluster)
        columns, groups, fitted = self._map_and_clusters(method, k, seed)
        scores = anomaly_scores(self.vectors, seed=seed)
        columns.update({name: scores[name].to_numpy() for name in scores.columns})
        explored = self.with_columns(columns)
        explored.info.update(map=method, k=groups.k, map_token=fitted.token, fit_sample=len(self))
        return explored, groups, fitted

    def _map_and_clusters(
        self, method: MapMethod, k: int | None, seed: int
    ) -> tuple[dict[str, np.ndarray], Clusters, Map]:
        """Every object's place on a map fitted to them and its clusters (``x``, ``y``,
        :data:`CLUSTER_COLUMNS`), the clusters and the fitted map."""
        fitted = Map(method, seed)
        xy = fitted.fit(self.vectors)
        groups = cluster(self.vectors, k=k, seed=seed)
        labels = (groups.kmeans, groups.hdbscan, groups.agglomerative)
        columns = {"x": xy[:, 0], "y": xy[:, 1], **dict(zip(CLUSTER_COLUMNS, labels, strict=True))}
        return columns, groups, fitted

    def _explore_from_sample(
        self, method: MapMethod, k: int | None, seed: int, size: int, cluster: str | None
    ) -> tuple[RunTable, Clusters, Map]:
        chosen = np.sort(np.random.default_rng(seed).choice(len(self), size, replace=False))
        rest = np.setdiff1d(np.arange(len(self)), chosen)
        part = RunTable(
            EmbeddingTable(self.rows(chosen).reset_index(drop=True), self.vectors[chosen], {})
        )
        sampled, groups, fitted = part._map_and_clusters(method, k, seed)  # scored below, once
        fitted_part = part.with_columns(sampled)
        columns = {name: np.empty(len(self), dtype=np.asarray(values).dtype)
                   for name, values in sampled.items()}  # fmt: skip
        for name in columns:
            columns[name][chosen] = sampled[name]
        # one search of the sample serves the map, the groups and the anomaly scores
        want = min(max(PLACE_NEIGHBOURS, ANOMALY_NEIGHBOURS), size)
        near = np.empty((len(rest), want), dtype=np.int64)
        similarity = np.empty((len(rest), want), dtype=np.float32)
        graph = len(rest) * size >= GRAPH_PAIRS  # for the whole set, not a chunk
        placing = fitted_part._placing(fitted)
        if cluster is None:
            chunks = _chunks(rest, CHUNK)
            results = (placing.search_and_place(self.vectors[rows], want, graph)
                       for rows in chunks)  # fmt: skip
        else:
            from morphospace.cluster import connect, run_partitions, worker_count

            with connect(cluster) as client:  # about four chunks a worker, at most CHUNK
                chunks = _chunks(rest, min(CHUNK, -(-len(rest) // (4 * worker_count(client)))))
                results = run_partitions(
                    client, _search_and_place, [self.vectors[rows] for rows in chunks],
                    placing, want, graph, description="place",
                )  # fmt: skip
        start = 0
        for rows, (found, placed) in zip(chunks, results, strict=True):
            near[start : start + len(rows)], similarity[start : start + len(rows)] = found
            for name, values in placed.items():
                columns[name][rows] = values
            start += len(rows)
        nearest = near[:, 0]
        leaf_of = np.empty(len(self), dtype=int)
        leaf_of[chosen] = groups.leaf_of if groups.leaf_of is not None else np.arange(size)
        leaf_of[rest] = leaf_of[chosen][nearest]
        everyone = Clusters(
            columns["cluster"], columns["cluster_hdbscan"], columns["cluster_agglomerative"],
            groups.k, groups.silhouettes, groups.linkage, leaf_of,
        )  # fmt: skip
        scores = anomaly_scores(
            self.vectors, ANOMALY_NEIGHBOURS, seed, chosen, fitted_part.index, (near, similarity)
        )
        columns.update({name: scores[name].to_numpy() for name in scores.columns})
        explored = self.with_columns(columns)
        explored.info.update(map=method, k=groups.k, map_token=fitted.token, fit_sample=size)
        return explored, everyone, fitted

    def place(self, new: EmbeddingTable) -> EmbeddingTable:
        """New objects as rows for this table: placed on its saved map by the map's own
        ``transform``, each in its nearest k-means cluster (by the clusters' mean directions)
        and in the HDBSCAN and Ward groups of its nearest object here. A table never
        explored (no ``x``) has nothing to place them on, and ``new`` comes back as it is."""
        if "x" not in self.columns or len(new) == 0:
            return new
        path = map_file(self.path or "embeddings.parquet")
        fitted = Map.load(path)
        if fitted.token != self.info.get("map_token"):
            raise InputError(path, "is not the map of this table; run 'morphospace report' again")
        return new.with_columns(self._placed(new.embeddings, fitted)[0])

    def _placed(
        self,
        vectors: np.ndarray,
        fitted: Map,
        graph: bool | None = None,
        found: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Where objects of these ``vectors`` go on this explored table's map and clusters,
        and each one's nearest object here (:meth:`Placing.place`)."""
        return self._placing(fitted).place(vectors, graph, found)

    def _placing(self, fitted: Map) -> Placing:
        """What places objects on this explored table's map and in its clusters."""
        groups = {name: self.column(name) for name in CLUSTER_COLUMNS[1:] if name in self.columns}
        centres = self._cluster_centres if "cluster" in self.columns else None
        return Placing(self.vectors, fitted, groups, centres, self.index)

    @cached_property
    def _cluster_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """The k-means clusters' names and mean directions, made once for every chunk of
        objects placed in them."""
        groups = self.column("cluster")
        names = np.unique(groups)
        known = normalise(self.vectors)
        return names, normalise(np.stack([known[groups == g].mean(axis=0) for g in names]))

    def anomalies(self) -> pd.DataFrame:
        """Every object's anomaly scores (:data:`SCORE_COLUMNS`): the table's when ``report``
        has written them, else computed on first use."""
        return self._anomalies.copy()

    @cached_property
    def _anomalies(self) -> pd.DataFrame:
        if set(SCORE_COLUMNS) <= set(self.columns):
            return self.rows(columns=SCORE_COLUMNS).reset_index(drop=True)
        return anomaly_scores(self.vectors)

    def rerank(self, marks: np.ndarray) -> pd.DataFrame:
        """The anomaly scores re-ranked by marks (1 interesting, 0 not, NaN unmarked): see
        :func:`~morphospace.explore.anomalies.rerank`."""
        return rerank(self.vectors, self._anomalies["anomaly"].to_numpy(float), marks)

    # --- the user's labels and marks -------------------------------------------------------

    @cached_property
    def labels(self) -> LabelStore:
        """The user's labels, ``labels.csv`` in the run's folder."""
        return LabelStore(self._kept("labels.csv"))

    @cached_property
    def marks(self) -> LabelStore:
        """The user's marks, ``marks.csv`` in the run's folder: 1 interesting, 0 not."""
        return LabelStore(self._kept("marks.csv"), column="interesting")

    @cached_property
    def seen(self) -> LabelStore:
        """The objects seen in triage, ``triage.csv`` in the run's folder: each object's
        place in the order they were seen (1, 2, …)."""
        return LabelStore(self._kept("triage.csv"), column="seen")

    @property
    def predictions_path(self) -> Path:
        """``predictions.csv`` in the run's folder: the labels last propagated from the
        explorer (``id``, ``predicted``, ``probability``)."""
        return self._kept("predictions.csv")

    def keep_predictions(self, found: Propagation) -> Path:
        """Keep propagated labels in :attr:`predictions_path`, replacing those kept before."""
        from morphospace.files import atomic_write

        rows = pd.DataFrame(
            {
                "id": self.ids,
                "predicted": [str(p) for p in found.predicted],
                "probability": np.round(found.probability, 4),
            }
        )
        text = rows.to_csv(index=False, lineterminator="\n")
        path = self.predictions_path
        atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
        return path

    def triage_order(self, order: TriageOrder, seed: int = 0) -> np.ndarray:
        """Every row number in the order triage shows them, from the user's marks and labels
        as kept now: see :func:`~morphospace.explore.triage.triage_order`."""
        return triage_order(
            order,
            self.vectors,
            self._anomalies["anomaly"].to_numpy(float),
            marks=self.mark_values() if order == "reranked" else None,
            labels=self.label_values() if order == "uncertain" else None,
            seed=seed,
        )

    def label_values(self) -> list[str | None]:
        """Each object's label in ``labels.csv`` (None where it has none), in row order."""
        given = self.labels.read()
        return [given.get(i) for i in self.ids]

    def mark_values(self) -> np.ndarray:
        """Each object's mark in ``marks.csv`` as 1.0 or 0.0 (NaN where it has none)."""
        given = self.marks.read()
        return np.array([float(given[i]) if i in given else math.nan for i in self.ids])

    def propagate(
        self,
        labels: Sequence[object],
        *,
        method: PropagateMethod = PROPAGATE_METHOD,
        suggest: int = SUGGEST,
        seed: int = 0,
    ) -> Propagation:
        """A few labels (None or "" for the unlabelled objects) propagated to every object:
        see :func:`~morphospace.explore.propagate.propagate`."""
        return propagate(self.vectors, labels, method=method, suggest=suggest, seed=seed)

    def annotated(self) -> tuple[RunTable, list[str]]:
        """The table with the user's labels, marks and the labels propagated in the
        explorer as columns (``label``, ``interesting``, ``predicted``, ``probability``),
        and one line on how each file matched."""
        table, said = self, []
        for path in (self.labels.path, self.marks.path, self.predictions_path):
            if not path.exists():
                continue
            try:
                table, found = table.join(CatalogueJoin(path, on="id=id"))
            except InputError as exc:  # emptied, or of other objects: nothing of it to add
                said.append(f"left out {exc}")
                continue
            said.append(found.summary(path))
        return table, said

    # --- catalogues ------------------------------------------------------------------------

    def join(self, catalogue: str | Path | CatalogueJoin) -> tuple[RunTable, CatalogueMatch]:
        """The table with a catalogue's columns added (labels, catalogue values), and how its
        rows were matched to the objects (see :mod:`morphospace.io.catalogue`). Columns the
        table already has are kept as they are."""
        aligned, found = CatalogueJoin.of(catalogue).match(self._whole().rows)
        new = [c for c in aligned.columns if c not in self.columns]
        return self.with_columns({c: aligned[c].to_numpy() for c in new}), found

    def joined_column(self, catalogue: str | Path | CatalogueJoin, column: str) -> np.ndarray:
        """One column of a catalogue, one value per object (missing where no row matches the
        object), matched as :meth:`join` matches. The catalogue's values win over a column
        of that name already in the table."""
        join = CatalogueJoin.of(catalogue)
        columns = join.columns()
        if column not in columns:
            close = ", ".join(columns[:12])
            raise InputError(join.path, f"has no column {column!r} (columns: {close})")
        values = join.match(self._whole().rows)[0][column].to_numpy()
        if pd.isna(values).all():
            raise InputError(join.path, f"column {column!r} matches no embedded object")
        return values

    # --- the model -------------------------------------------------------------------------

    def embedder(self, run: str | Path | None = None) -> Embedder:
        """The model that made these vectors, fed as it fed them (test-time averaging as
        recorded): from ``run``, the folder the table is kept in, or the run it records.

        Raises
        ------
        InputError
            When no trained run is found, or the run holds another model than the one the
            table records.
        """
        from morphospace.embed import Embedder

        found = run or next(
            (
                folder
                for folder in (self.folder, self.info.get("run"))
                if folder and (Path(folder) / "model.json").exists()
            ),
            None,
        )
        if found is None:
            raise InputError(
                self._source, "holds no model.json and records no trained run: name the run (--run)"
            )
        embedder = Embedder.from_run(found, tta=bool(self.info.get("tta", True)))
        recorded = self.info.get("model_sha256")
        if recorded and embedder.card.weights_sha256 != recorded:
            raise InputError(found, "holds a different model than the one that made these vectors")
        return embedder

    # --- where it is kept ------------------------------------------------------------------

    @property
    def _source(self) -> str:
        """What messages about the table name."""
        return str(self.path) if self.path is not None else "table"

    def _kept(self, name: str) -> Path:
        if self.folder is None:
            raise InputError(name, "a table in memory has no run folder to keep it in")
        return self.folder / name


class Placing:
    """What places new objects on an explored table's map and in its clusters: the
    explored objects' vectors, the fitted map, their HDBSCAN and Ward groups and the
    k-means clusters' mean directions. It holds no table, so it is sent whole to the
    workers of a Dask cluster, which make the search index again (on first use).

    Parameters
    ----------
    vectors : ndarray, shape (N, D)
        The explored objects' embeddings (the fitted sample's, for a large table).
    fitted : Map
        The map fitted to them.
    groups : dict
        Their HDBSCAN and Ward groups, by column name.
    centres : tuple, optional
        The k-means clusters' names and mean directions.
    index : SimilarityIndex, optional
        A search index of ``vectors`` already made.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        fitted: Map,
        groups: dict[str, np.ndarray],
        centres: tuple[np.ndarray, np.ndarray] | None,
        index: SimilarityIndex | None = None,
    ):
        self.vectors, self.fitted, self.groups, self.centres = vectors, fitted, groups, centres
        self._index = index

    @property
    def index(self) -> SimilarityIndex:
        if self._index is None:
            self._index = SimilarityIndex(self.vectors)
        return self._index

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_index": None}  # made again where it is needed

    def place(
        self,
        vectors: np.ndarray,
        graph: bool | None = None,
        found: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Where objects of these ``vectors`` go (``x``, ``y`` and the cluster columns) and
        each one's nearest explored object. ``graph`` as :meth:`Map.transform`; ``found``:
        the explored objects most similar to each one and their similarities, already
        searched, when those are the objects the map was fitted on."""
        fitted = self.fitted
        if found is None:
            found = self.index.query(vectors, 1, graph=graph)
            xy = fitted.transform(vectors, graph)
        else:
            xy = fitted.place(*found) if fitted.by_neighbours else fitted.transform(vectors)
        nearest = found[0][:, 0]
        columns: dict[str, np.ndarray] = {"x": xy[:, 0], "y": xy[:, 1]}
        if self.centres is not None:
            names, centres = self.centres
            columns["cluster"] = names[np.argmax(normalise(vectors) @ centres.T, axis=1)]
        for name, values in self.groups.items():
            columns[name] = values[nearest]
        return columns, nearest

    def search_and_place(
        self, vectors: np.ndarray, want: int, graph: bool
    ) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
        """The ``want`` explored objects most similar to each of ``vectors`` (rows and
        similarities), and where each goes: one search serving both."""
        found = self.index.query(vectors, want, graph=graph)
        return found, self.place(vectors, found=found)[0]


def _chunks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    """``rows`` in consecutive chunks of ``size`` (at least one a chunk)."""
    size = max(1, size)
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _search_and_place(vectors: np.ndarray, placing: Placing, want: int, graph: bool):
    """:meth:`Placing.search_and_place` as a task of a Dask worker."""
    from morphospace.cluster import on_worker

    on_worker()
    return placing.search_and_place(vectors, want, graph)
