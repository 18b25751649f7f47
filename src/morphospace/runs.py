"""A run folder in Python: the notebook's way in.

    import morphospace
    run = morphospace.open_run("runs/disks")
    run.table.head()                      # pandas: one row per object
    run.similar("HD 163296", k=8)         # the most similar objects, best first
    run.anomalies(20)                     # the most unusual ones
    run.map_figure(colour_by="cluster")   # a matplotlib Figure

Everything goes through the same code as the command line: :meth:`Run.embed` gives the
vectors ``morphospace embed`` writes, with the run's recorded preprocessing, framing and
test-time averaging.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from morphospace.embed import EmbeddingTable, find_table
from morphospace.errors import InputError
from morphospace.explore.table import RunTable

if TYPE_CHECKING:
    from astropy.table import Table
    from matplotlib.figure import Figure

    from morphospace.embed import Embedder

__all__ = ["Run", "open_run"]


def open_run(folder: str | Path) -> Run:
    """Open a run folder (its ``embeddings.parquet``) or an embedding table."""
    return Run(folder)


class Run:
    """The embedded objects of a run, their neighbours, anomalies, thumbnails and figures.

    Parameters
    ----------
    folder : path
        A run folder holding ``embeddings.parquet`` (from ``morphospace run`` or
        ``embed``), or an embedding table. A run trained but not embedded yet opens with
        no objects: :meth:`embed` works, the rest waits for ``morphospace embed``.
    """

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        if folder.is_dir() and (folder / "model.json").exists():
            self.table_path = folder / "embeddings.parquet"
        else:
            self.table_path = find_table(folder)
        self.folder = self.table_path.parent
        if self.table_path.exists():
            self._table = RunTable.open(self.table_path)
        else:
            no_rows = pd.DataFrame({"id": pd.Series(dtype=str), "path": pd.Series(dtype=str)})
            empty = EmbeddingTable(no_rows, np.zeros((0, 0), np.float32), {})
            self._table = RunTable(empty, self.table_path)
        self._embedder: Embedder | None = None

    def __repr__(self) -> str:
        return f"<morphospace run {self.folder}: {len(self._table)} objects>"

    def __len__(self) -> int:
        return len(self._table)

    @property
    def table(self) -> pd.DataFrame:
        """One row per object: metadata, map position, clusters, anomaly scores, labels."""
        return self._table.rows()

    @property
    def embeddings(self) -> np.ndarray:
        """The (N, D) embedding vectors, in the rows' order."""
        return self._table.vectors

    def to_astropy(self, embedding: bool = False) -> Table:
        """The rows as an astropy Table with units (and the vectors as a column if asked)."""
        from morphospace.report.export import selection_table

        return selection_table(self._table, embedding=embedding)

    def find(self, query: str | int) -> int:
        """The row of an object given by row number, id, OBJECT name or file name."""
        return self._table.find(query)

    def similar(self, query: str | int | Path, k: int = 12) -> pd.DataFrame:
        """The ``k`` objects most similar to ``query`` (an object of the run, or a FITS file
        embedded with the run's model), best first, with their cosine similarity."""
        if isinstance(query, Path) or (isinstance(query, str) and Path(query).is_file()):
            near, score = self._table.similar(self.embed([query]).embeddings, k)
        else:
            near, score = self._table.similar(self.find(query), k)
        found = self._table.rows(near)
        found.insert(0, "similarity", score)
        return found

    def anomalies(self, n: int = 50) -> pd.DataFrame:
        """The ``n`` most unusual objects, most unusual first (the report's scores when it
        has run, else computed now)."""
        rows = self._table.rows()
        for name, values in self._table.anomalies().items():
            rows[name] = values.to_numpy()
        order = np.argsort(-rows["anomaly"].to_numpy(float), kind="stable")[:n]
        return rows.iloc[order]

    def embed(self, files: str | Path | Iterable[str | Path]) -> EmbeddingTable:
        """Embed FITS files with the run's model, as ``morphospace embed`` does (in memory:
        nothing is written). Files that cannot be read are skipped with a warning."""
        import warnings

        if self._embedder is None:
            self._embedder = self._table.embedder()
        sources = [files] if isinstance(files, str | Path) else list(files)
        table, problems = self._embedder.embed(sources)
        for problem in problems:
            warnings.warn(f"skipped {problem}", stacklevel=2)
        return table

    def thumbnails(self, objects: Sequence[str | int] | None = None) -> np.ndarray:
        """(M, S, S) uint8 thumbnails of some objects (all by default), framed as the report
        frames them; row 0 is the top of the picture, so ``imshow`` draws them as DS9 does."""
        from morphospace.report.thumbnails import thumbnails_of

        images, _ = thumbnails_of(self._rows(objects), framing=self._table.framing)
        return images

    def map_figure(self, colour_by: str = "cluster") -> Figure:
        """The 2-D map, coloured by a column (``report`` must have made the map)."""
        from morphospace.report import figures
        from morphospace.report.html import CATEGORICAL

        xy = self._map()
        values = self._table.column(colour_by)
        numeric = pd.api.types.is_numeric_dtype(values)
        categorical = colour_by in CATEGORICAL or not numeric
        return figures.scatter_map(xy, values, None, colour_by, categorical)

    def thumbnail_map_figure(self, cells: int = 24) -> Figure:
        """Thumbnails laid over the 2-D map, one per occupied cell."""
        from morphospace.report import figures

        return figures.thumbnail_map(self._map(), self.thumbnails(), None, cells)

    def gallery_figure(self, objects: Sequence[str | int], title: str = "") -> Figure:
        """A row of thumbnails of the given objects, captioned with their ids."""
        from morphospace.report import figures

        rows = self._rows(objects)
        captions = {i: str(name)[:24] for i, name in enumerate(rows["id"])}
        rows_of = figures.in_rows(range(len(rows)), 7)
        return figures.gallery(self.thumbnails(objects), rows_of, None, title, captions=captions)

    def _rows(self, objects: Sequence[str | int] | None) -> pd.DataFrame:
        if objects is None:
            return self._table.rows()
        return self._table.rows([self.find(o) for o in objects])

    def _map(self) -> np.ndarray:
        if "x" not in self._table.columns:
            raise InputError(self.table_path, "has no map yet; run 'morphospace report' on it")
        return self._table.rows(columns=["x", "y"]).to_numpy(float)
