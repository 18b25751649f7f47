"""``EmbeddingTable``: one row per object, written to and read from Parquet.

Columns: ``id``, ``path``, ``hdu``, the cutout box (``cutout_map``, ``cutout_x0``,
``cutout_y0``, with ``shape`` giving its size), the header metadata (``object``, ``ra``,
``dec``, ``restfrq``, ``bmaj``, ``bmin``, ``bpa``, ``pixel_scale``, ``shape``, …) and
``embedding`` (``list<float32>``). ``report`` adds ``x``, ``y``, ``cluster`` and anomaly
columns. The model hash and the embedding settings travel in the file's metadata under the
key ``morphospace``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from morphospace.errors import InputError
from morphospace.files import atomic_write, save_npy
from morphospace.io.sources import object_id

__all__ = [
    "METADATA_KEY",
    "TABLE_FORMAT",
    "EmbeddingTable",
    "find_table",
    "unique_ids",
    "unused_id",
]

TABLE_FORMAT = "morphospace-embeddings/1"
METADATA_KEY = b"morphospace"


class EmbeddingTable:
    """Embeddings of a set of objects with their identifiers and metadata.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per object; must hold ``id`` and ``path``.
    embeddings : ndarray, shape (N, D)
        One embedding per row.
    info : dict
        Provenance (model hash, backbone, embedding settings), kept in the Parquet metadata.
    """

    def __init__(self, rows: pd.DataFrame, embeddings: np.ndarray, info: dict[str, Any]):
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or len(embeddings) != len(rows):
            raise ValueError(
                f"need one embedding per row: {len(rows)} rows, embeddings {embeddings.shape}"
            )
        for column in ("id", "path"):
            if column not in rows.columns:
                raise ValueError(f"the table needs an {column!r} column")
        self.rows = rows.reset_index(drop=True)
        self.embeddings = embeddings
        self.info = dict(info)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        return self.rows["id"].astype(str).tolist()

    def with_columns(self, columns: dict[str, Any]) -> EmbeddingTable:
        """A copy with columns added or replaced (each one value per row)."""
        rows = self.rows.copy()
        for name, values in columns.items():
            if name == "embedding":
                raise ValueError("'embedding' is reserved")
            rows[name] = values
        return EmbeddingTable(rows, self.embeddings, self.info)

    def find(self, query: str) -> int:
        """Row index of an object given by id, OBJECT name or file name (case-insensitive).

        Raises
        ------
        KeyError
            If nothing matches, or a name matches several objects.
        """
        wanted = query.strip().casefold()
        for column in ("id", "object", "path"):
            if column not in self.rows.columns:
                continue
            values = self.rows[column].astype(str).str.casefold()
            if column == "path":
                values = values.map(lambda p: Path(p).name)
            matches = np.flatnonzero(values.to_numpy() == wanted)
            if len(matches) == 1:
                return int(matches[0])
            if len(matches) > 1:
                raise KeyError(f"{query!r} matches {len(matches)} objects by {column}; use an id")
        raise KeyError(f"no object with id, name or file name {query!r}")

    def write(self, path: str | Path) -> Path:
        """Write Parquet atomically: an existing file is replaced only by a complete new one."""
        path = Path(path)
        table = self.arrow()
        info = {"format": TABLE_FORMAT, **self.info}
        metadata = dict(table.schema.metadata or {})
        metadata[METADATA_KEY] = json.dumps(info).encode()
        table = table.replace_schema_metadata(metadata)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda temporary: pq.write_table(table, temporary))
        return path

    @classmethod
    def read(cls, path: str | Path) -> EmbeddingTable:
        """Read a table written by :meth:`write`.

        Raises
        ------
        InputError
            If the file is missing, not Parquet, or not a morphospace embedding table.
        """
        path = Path(path)
        if not path.exists():
            raise InputError(path, "no such file (make one with 'morphospace embed')")
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise InputError(path, f"not a readable Parquet file ({_short(exc)})") from None
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None or "embedding" not in table.column_names:
            raise InputError(path, "not a morphospace embedding table (no embedding column)")
        info = json.loads(raw)
        if info.pop("format", None) != TABLE_FORMAT:
            raise InputError(path, "unknown embedding table format")
        column = table.column("embedding").combine_chunks()
        sizes = set(column.value_lengths().to_numpy(zero_copy_only=False).tolist())
        if len(sizes) > 1:
            raise InputError(path, f"embeddings of different lengths {sorted(sizes)}")
        width = sizes.pop() if sizes else 0
        values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        embeddings = values.reshape(len(table), width)
        rows = table.drop(["embedding"]).to_pandas()
        return cls(rows, embeddings, info)

    def arrow(self) -> pa.Table:
        """The table as Arrow: its columns, then the embeddings as a list column."""
        table = pa.Table.from_pandas(self.rows, preserve_index=False)
        flat = pa.array(self.embeddings.reshape(-1), type=pa.float32())
        offsets = pa.array(np.arange(len(self) + 1) * self.embeddings.shape[1], type=pa.int32())
        return table.append_column("embedding", pa.ListArray.from_arrays(offsets, flat))

    def append_to(self, path: str | Path) -> Path:
        """Add these rows to the end of the table at ``path``, atomically, leaving its rows
        exactly as they are: the two are joined as Arrow tables, never through pandas, so no
        column of the old rows changes type or value. A column only one side has is empty on
        the other."""
        path = Path(path)
        old = pq.read_table(path)
        new = self.arrow()
        names = list(old.column_names) + [n for n in new.column_names if n not in old.column_names]
        columns = []
        for name in names:
            ours = old.column(name) if name in old.column_names else None
            theirs = new.column(name) if name in new.column_names else None
            present = [c for c in (ours, theirs) if c is not None]
            typed = [c.type for c in present if not pa.types.is_null(c.type)]
            kind = typed[0] if typed else pa.null()  # the old rows' type wins
            ours = pa.nulls(len(old), kind) if ours is None else ours.cast(kind)
            if theirs is None or pa.types.is_null(theirs.type):
                theirs = pa.nulls(len(new), kind)
            try:
                theirs = theirs.cast(kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(
                    path, f"column {name!r} of the new objects is {theirs.type}, not {kind}"
                ) from None
            parts = [c.chunks if isinstance(c, pa.ChunkedArray) else [c] for c in (ours, theirs)]
            columns.append(pa.chunked_array([*parts[0], *parts[1]], kind))
        joined = pa.table(dict(zip(names, columns, strict=True)))
        joined = joined.replace_schema_metadata(old.schema.metadata)
        atomic_write(path, lambda temporary: pq.write_table(joined, temporary))
        return path

    def save_npy(self, path: str | Path) -> Path:
        """Write the embeddings alone as a (N, D) float32 ``.npy`` file, rows in table order."""
        path = Path(path)
        atomic_write(path, lambda temporary: save_npy(temporary, self.embeddings))
        return path


def unique_ids(paths: Sequence[str | Path], hdus: Sequence[int]) -> list[str]:
    """Readable, unique object ids: the file stem, made unique with the HDU or a counter."""
    stems = [object_id(p) for p in paths]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    used: set[str] = set()
    return [
        unused_id(stem if counts[stem] == 1 else f"{stem}[{hdu}]", used)
        for stem, hdu in zip(stems, hdus, strict=True)
    ]


def unused_id(wanted: str, used: set[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3``, … whichever ``used`` lacks; added to it."""
    candidate, n = wanted, 1
    while candidate in used:
        n += 1
        candidate = f"{wanted}_{n}"
    used.add(candidate)
    return candidate


def find_table(target: str | Path) -> Path:
    """The embedding table a run folder holds (``RUN/embeddings.parquet``), or ``target``
    itself when it names a file."""
    path = Path(target)
    table = path / "embeddings.parquet" if path.is_dir() else path
    if not table.exists():
        raise InputError(table, "no embedding table here (run 'morphospace embed' first)")
    return table


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
