"""``EmbeddingTable``: one row per object, written to and read from Parquet.

Columns: ``id``, ``path``, ``hdu``, the cutout box (``cutout_map``, ``cutout_x0``,
``cutout_y0``, with ``shape`` giving its size), the header metadata (``object``, ``ra``,
``dec``, ``restfrq``, ``bmaj``, ``bmin``, ``bpa``, ``pixel_scale``, ``shape``, …) and
``embedding`` (``list<float32>``). ``report`` adds ``x``, ``y``, ``cluster`` and anomaly
columns. The model hash and the embedding settings travel in the file's metadata under the
key ``morphospace``.

A table of many objects is a Parquet dataset instead: a folder ``embeddings.parquet/`` of
shards ``part-00000.parquet``, … (each :data:`~morphospace.choices.SHARD_ROWS` objects)
and the table's metadata once, in ``_morphospace.json``, written last: a folder without
it is an embedding still under way (:func:`write_shard`, :func:`finish_shards`).
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
    "DATASET_INFO",
    "METADATA_KEY",
    "TABLE_FORMAT",
    "EmbeddingTable",
    "find_table",
    "finish_shards",
    "is_dataset",
    "read_columns",
    "read_rows",
    "read_shard_marks",
    "table_columns",
    "unique_ids",
    "unused_id",
    "write_shard",
]

#: The metadata file of a sharded table, written once every shard is in place.
DATASET_INFO = "_morphospace.json"

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
        """Write Parquet atomically: an existing file is replaced only by a complete new one.
        Where ``path`` is a sharded table, it is written again as one, shard by shard, into a
        new folder that then takes its place."""
        path = Path(path)
        if is_dataset(path):
            return self._write_dataset(path)
        table = self.arrow()
        info = {"format": TABLE_FORMAT, **self.info}
        metadata = dict(table.schema.metadata or {})
        metadata[METADATA_KEY] = json.dumps(info).encode()
        table = table.replace_schema_metadata(metadata)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda temporary: pq.write_table(table, temporary))
        return path

    @classmethod
    def read(cls, path: str | Path, columns: Sequence[str] | None = None) -> EmbeddingTable:
        """Read a table written by :meth:`write`: every column, or the ``columns`` named
        (those the table has) with ``id``, ``path`` and the embeddings, which are always
        read (:func:`read_rows` reads the others where they are needed).

        Raises
        ------
        InputError
            If the file is missing, not Parquet, or not a morphospace embedding table.
        """
        path = Path(path)
        if not path.exists():
            raise InputError(path, "no such file (make one with 'morphospace embed')")
        wanted = (
            None if columns is None else list(dict.fromkeys(["id", "path", *columns, "embedding"]))
        )
        if path.is_dir():
            table, raw = _read_dataset(path, wanted)
        else:
            try:
                table = _read_part(path, wanted)
            except Exception as exc:
                raise InputError(path, f"not a readable Parquet file ({_short(exc)})") from None
            raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None or "embedding" not in table.column_names:
            raise InputError(path, "not a morphospace embedding table (no embedding column)")
        info = json.loads(raw)
        if info.pop("format", None) != TABLE_FORMAT:
            raise InputError(path, "unknown embedding table format")
        chunks = table.column("embedding").chunks
        sizes = set()
        for chunk in chunks:
            sizes |= set(chunk.value_lengths().to_numpy(zero_copy_only=False).tolist())
        if len(sizes) > 1:
            raise InputError(path, f"embeddings of different lengths {sorted(sizes)}")
        width = sizes.pop() if sizes else 0
        # chunk by chunk into one array: no second copy of every vector on the way
        embeddings = np.empty((len(table), width), dtype=np.float32)
        start = 0
        for chunk in chunks:
            values = chunk.flatten().to_numpy(zero_copy_only=False)
            embeddings[start : start + len(chunk)] = values.reshape(len(chunk), width)
            start += len(chunk)
        rows = table.drop(["embedding"]).to_pandas()
        return cls(rows, embeddings, info)

    def arrow(self) -> pa.Table:
        """The table as Arrow: its columns, then the embeddings as a list column."""
        table = pa.Table.from_pandas(self.rows, preserve_index=False)
        flat = pa.array(self.embeddings.reshape(-1), type=pa.float32())
        offsets = pa.array(np.arange(len(self) + 1) * self.embeddings.shape[1], type=pa.int32())
        return table.append_column("embedding", pa.ListArray.from_arrays(offsets, flat))

    def _write_dataset(self, path: Path) -> Path:
        """Write the table as a sharded dataset in place of the one at ``path``."""
        import shutil

        from morphospace.choices import SHARD_ROWS

        fresh = path.with_name(f".{path.name}.new")
        shutil.rmtree(fresh, ignore_errors=True)
        for k, start in enumerate(range(0, max(len(self), 1), SHARD_ROWS)):
            part = EmbeddingTable(
                self.rows.iloc[start : start + SHARD_ROWS],
                self.embeddings[start : start + SHARD_ROWS],
                {},
            )
            write_shard(part, fresh, k, {})
        finish_shards(fresh, self.info)
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
        fresh.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        return path

    def append_to(self, path: str | Path) -> Path:
        """Add these rows to the end of the table at ``path``, atomically, leaving its rows
        exactly as they are: the two are joined as Arrow tables, never through pandas, so no
        column of the old rows changes type or value. A column only one side has is empty on
        the other."""
        path = Path(path)
        if is_dataset(path):
            raise InputError(path, "is a sharded table: --append adds to single-file tables")
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


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a sharded embedding table (finished or under way)."""
    path = Path(path)
    return path.is_dir() and ((path / DATASET_INFO).exists() or any(path.glob("part-*.parquet")))


def write_shard(part: EmbeddingTable, folder: Path, index: int, marks: dict[str, Any]) -> Path:
    """Write one shard of a sharded table atomically, with ``marks`` (what it holds: its
    first source, how many, the model) in its metadata, for a resumed embedding to check."""
    table = part.arrow()
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(marks).encode()})
    path = folder / f"part-{index:05d}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: pq.write_table(table, temporary))
    return path


def read_shard_marks(folder: Path, index: int) -> dict[str, Any] | None:
    """The marks of shard ``index`` (see :func:`write_shard`), or None when it is missing or
    cannot be read (a shard being written when the embedding stopped)."""
    path = folder / f"part-{index:05d}.parquet"
    try:
        raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    except (OSError, pa.ArrowInvalid):
        return None
    return json.loads(raw) if raw else None


def finish_shards(folder: Path, info: dict[str, Any]) -> Path:
    """Write the table's metadata once, last: the sharded table is then complete."""
    text = json.dumps({"format": TABLE_FORMAT, **info})
    atomic_write(folder / DATASET_INFO, lambda temporary: temporary.write_text(text))
    return folder


def table_columns(path: str | Path) -> list[str]:
    """The names of the columns of the table at ``path`` (a file or a sharded folder), in
    the order kept, from the files' schemas alone; the embeddings' column is left out."""
    names: dict[str, None] = {}
    for part in _parts(Path(path)):
        names.update(dict.fromkeys(pq.read_schema(part).names))
    return [name for name in names if name != "embedding"]


def read_rows(path: str | Path, rows: Sequence[int] | np.ndarray, columns: Sequence[str]):
    """The ``columns`` of the chosen ``rows`` of the table at ``path``, in the order given,
    as a frame: only the shards that hold them are read, and of those only the columns."""
    rows = np.asarray(rows, dtype=np.int64)
    parts = _parts(Path(path))
    sizes = [pq.ParquetFile(part).metadata.num_rows for part in parts]
    starts = np.cumsum([0, *sizes])
    shard = np.searchsorted(starts, rows, side="right") - 1
    pieces, order = [_empty(parts[0], columns)], [np.empty(0, np.int64)]
    for k in np.unique(shard):
        chosen = np.flatnonzero(shard == k)
        table = _read_part(parts[int(k)], columns)
        pieces.append(table.take(pa.array(rows[chosen] - starts[k])).replace_schema_metadata(None))
        order.append(chosen)
    frame = pa.concat_tables(pieces, promote_options="default").to_pandas()
    frame.index = np.concatenate(order)
    return frame.sort_index().reset_index(drop=True).reindex(columns=list(columns))


def read_columns(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """The ``columns`` of every row of the table at ``path``, without its embeddings."""
    tables = [
        _read_part(part, columns).replace_schema_metadata(None) for part in _parts(Path(path))
    ]
    return (
        pa.concat_tables(tables, promote_options="default")
        .to_pandas()
        .reindex(columns=list(columns))
    )


def _empty(part: Path, columns: Sequence[str]) -> pa.Table:
    """No rows of the ``columns`` of a shard, with their types."""
    schema = pq.read_schema(part)
    return schema.empty_table().select(_present(schema, columns)).replace_schema_metadata(None)


def _present(schema: pa.Schema, wanted: Sequence[str] | None) -> list[str] | None:
    """Those of the ``wanted`` columns that a file holds (None: all of them)."""
    return None if wanted is None else [name for name in wanted if name in schema.names]


def _read_part(part: Path, wanted: Sequence[str] | None) -> pa.Table:
    """One Parquet file of a table: the ``wanted`` columns it holds (None: all)."""
    return pq.read_table(part, columns=_present(pq.read_schema(part), wanted))


def _shards(path: Path) -> list[Path]:
    return sorted(path.glob("part-*.parquet"))


def _parts(path: Path) -> list[Path]:
    """The Parquet files of a table: the shards of a sharded one, or the file itself."""
    return _shards(path) if path.is_dir() else [path]


def _read_dataset(path: Path, wanted: Sequence[str] | None = None) -> tuple[pa.Table, bytes]:
    info = path / DATASET_INFO
    if not info.exists():
        raise InputError(
            path, "is an embedding still under way; run the same 'morphospace embed' to finish it"
        )
    try:
        tables = [_read_part(part, wanted) for part in _shards(path)]
    except Exception as exc:
        raise InputError(path, f"has a shard that cannot be read ({_short(exc)})") from None
    table = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="default"
    )
    return table, info.read_text().encode()


def find_table(target: str | Path) -> Path:
    """The embedding table a run folder holds (``RUN/embeddings.parquet``, a file or a
    sharded folder), or ``target`` itself when it names a table."""
    path = Path(target)
    table = path / "embeddings.parquet" if path.is_dir() and not is_dataset(path) else path
    if not table.exists():
        raise InputError(table, "no embedding table here (run 'morphospace embed' first)")
    return table


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
