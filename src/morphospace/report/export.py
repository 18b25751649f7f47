"""Objects handed on: a table for TOPCAT, regions for DS9, a file list for ``train``.

:func:`write_selection` writes the chosen rows of an embedding table in the format the
file's suffix names:

| suffix | what | read by |
|---|---|---|
| ``.csv``, ``.ecsv`` | the rows' columns, ECSV with units | TOPCAT, astropy, pandas |
| ``.vot``, ``.xml`` | a VOTable with units and UCDs of the sky position | TOPCAT, Aladin |
| ``.fits`` | a binary table with units | TOPCAT, astropy, DS9 |
| ``.reg`` | DS9 regions: a labelled circle at each object's RA/Dec | DS9, astropy-regions |
| ``.txt`` | one FITS path per line | ``morphospace train`` and ``embed`` |

Every file is written atomically. The embedding vectors can go along as an array column
in FITS, VOTable and ECSV. Regions are coloured by cluster when the table has one.

:func:`export_table` is ``morphospace export``: a whole table, with the run's labels and
marks and optionally a catalogue, plus its regions beside it. :func:`export_hats` is
``morphospace export --hats``: the same columns and the embedding vectors as a HATS
catalogue (HEALPix-partitioned Parquet, with a margin), which LSDB opens and cross-matches
with survey catalogues of any size; it needs the ``cluster`` extra.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.table import Table

from morphospace.embed.table import EmbeddingTable
from morphospace.errors import InputError
from morphospace.explore.table import RunTable
from morphospace.files import atomic_write
from morphospace.io.catalogue import CatalogueJoin
from morphospace.report.palette import category_colours

__all__ = [
    "HATS_PARTITION_BYTES",
    "SUFFIXES",
    "TABLE_SUFFIXES",
    "UNITS",
    "ds9_regions",
    "export_hats",
    "export_table",
    "rows_table",
    "selection_table",
    "table_format",
    "write_rows",
    "write_selection",
]

#: Units of the embedding table's metadata columns.
UNITS = {
    "ra": u.deg,
    "dec": u.deg,
    "pixel_scale": u.arcsec,
    "bmaj": u.arcsec,
    "bmin": u.arcsec,
    "bpa": u.deg,
    "restfrq": u.Hz,
}
_UCDS = {"ra": "pos.eq.ra;meta.main", "dec": "pos.eq.dec;meta.main", "id": "meta.id;meta.main"}
_TABLE_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".vot": "votable",
                  ".xml": "votable", ".fits": "fits"}  # fmt: skip
TABLE_SUFFIXES = tuple(_TABLE_FORMATS)
SUFFIXES = (*TABLE_SUFFIXES, ".reg", ".txt")
_ARRAY_FORMATS = (".vot", ".xml", ".fits", ".ecsv")
#: Radius of a region whose object has no known angular size.
DEFAULT_RADIUS = 10 * u.arcsec
#: The most bytes in memory of one partition of a HATS export (HEALPix pixels are split
#: until each holds no more).
HATS_PARTITION_BYTES = 256 * 2**20


def selection_table(
    table: RunTable, indices: Sequence[int] | None = None, embedding: bool = False
) -> Table:
    """The chosen rows (all by default) as an astropy Table with units, and the embedding
    vectors as an array column if asked."""
    chosen = np.arange(len(table)) if indices is None else np.asarray(list(indices), dtype=int)
    out = rows_table(table.rows(chosen))
    if embedding:
        out["embedding"] = table.vectors[chosen]
        out["embedding"].description = "morphospace embedding (whitened)"
    return out


def rows_table(rows: pd.DataFrame) -> Table:
    """Rows of an embedding table (or an answer drawn from one) as an astropy Table, with
    the units and UCDs of the known columns."""
    out = Table()
    for name in rows.columns:
        values = rows[name].to_numpy()
        if values.dtype == object:  # text, or numbers with gaps: pick what the values are
            present = [v for v in values if v is not None and not _is_nan(v)]
            if present and all(isinstance(v, (int, float, np.number)) for v in present):
                values = np.array([np.nan if _is_nan(v) or v is None else v for v in values], float)
            else:
                values = np.array(["" if v is None or _is_nan(v) else str(v) for v in values])
        out[name] = values
        if name in UNITS:
            out[name].unit = UNITS[name]
        if name in _UCDS:
            out[name].meta["ucd"] = _UCDS[name]
    return out


def table_format(path: str | Path) -> str:
    """astropy's format name for a table file, by its suffix (CSV, ECSV, VOTable or FITS)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _TABLE_FORMATS:
        raise InputError(path, f"unknown table format; use one of {', '.join(TABLE_SUFFIXES)}")
    return _TABLE_FORMATS[suffix]


def write_rows(rows: pd.DataFrame, path: str | Path) -> Path:
    """Write rows as a table (CSV, ECSV, VOTable or FITS, by the suffix), atomically."""
    return _write_table(rows_table(rows), Path(path))


def _write_table(out: Table, path: Path) -> Path:
    format_ = table_format(path)
    atomic_write(path, lambda temporary: out.write(temporary, format=format_, overwrite=True))
    return path


def write_selection(
    table: RunTable,
    path: str | Path,
    indices: Sequence[int] | None = None,
    embedding: bool = False,
) -> Path:
    """Write the chosen rows to ``path`` in the format its suffix names (see the module)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, f"unknown export format; use one of {', '.join(SUFFIXES)}")
    if embedding and suffix not in _ARRAY_FORMATS:
        raise InputError(
            path, f"cannot hold the embedding vectors; use {', '.join(_ARRAY_FORMATS)}"
        )
    chosen = selection_table(table, indices, embedding)
    if suffix == ".txt":
        text = "".join(f"{p}\n" for p in chosen["path"])
        atomic_write(path, lambda temporary: temporary.write_text(text))
    elif suffix == ".reg":
        atomic_write(path, lambda temporary: temporary.write_text(ds9_regions(chosen)))
    else:
        _write_table(chosen, path)
    return path


def ds9_regions(chosen: Table) -> str:
    """DS9 region text (CARTA reads it too): a circle (fk5, degrees) at each object with a
    sky position, coloured by its cluster when the table has one.

    The radius is half the object's larger side, from its shape and pixel scale, or
    :data:`DEFAULT_RADIUS` when either is unknown.
    """
    lines = ["# Region file format: DS9 version 4.1", "global color=cyan", "fk5"]
    clustered = "cluster" in chosen.colnames
    colours = category_colours(chosen["cluster"]) if clustered else {}
    for row in chosen:
        ra, dec = float(row["ra"]), float(row["dec"])
        if not (math.isfinite(ra) and math.isfinite(dec)):
            continue
        radius = _radius_arcsec(row)
        label = str(row["id"]).replace("}", ")").replace("{", "(")
        extra = f" color={colours[str(row['cluster'])]}" if clustered else ""
        lines.append(f'circle({ra:.7f},{dec:.7f},{radius:.2f}") # text={{{label}}}{extra}')
    return "\n".join(lines) + "\n"


def export_table(
    target: str | Path,
    output: str | Path,
    *,
    embedding: bool = False,
    join: str | Path | CatalogueJoin | None = None,
    regions: bool = True,
) -> tuple[list[Path], list[str]]:
    """``morphospace export``: every row of a run's (or a table's) embedding table.

    The table's columns (metadata, map coordinates, clusters, anomaly scores, propagated
    labels) go out with the run folder's labels and marks (``labels.csv``, ``marks.csv``
    beside the table) and, if given, a joined catalogue's columns. With ``regions``, a
    DS9/CARTA region file of the positions, coloured by cluster, is written beside
    ``output`` (same name, ``.reg``).

    Returns the files written and one line on each join made.
    """
    output = Path(output)
    table_format(output)  # refuse an unknown format before any work
    table, said = _exported(target, join)
    written = [write_selection(table, output, embedding=embedding)]
    if regions:
        written.append(write_selection(table, output.with_suffix(".reg")))
    return written, said


def export_hats(
    target: str | Path,
    folder: str | Path,
    *,
    join: str | Path | CatalogueJoin | None = None,
    progress: bool = False,
) -> tuple[Path, list[str]]:
    """``morphospace export --hats``: every object with a sky position as a HATS catalogue
    in the new folder ``folder``, named after it; the columns of :func:`export_table` and
    the embedding (``list<float32>``).

    ``lsdb.read_hats(folder)`` opens it. It is written beside ``folder`` first and moved
    into place whole, so a stopped export leaves no half catalogue. Returns the folder
    and one line on each join made and on the objects left out for want of a position.
    """
    from morphospace.cluster import needs_extra

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(folder, "already exists; name a new folder for the HATS catalogue")
    lsdb = needs_extra("lsdb", "--hats")
    table, said = _exported(target, join)
    rows = table.rows()
    placed = np.zeros(len(rows), bool)
    if {"ra", "dec"} <= set(rows.columns):
        ra, dec = (pd.to_numeric(rows[c], errors="coerce").to_numpy(float) for c in ("ra", "dec"))
        placed = np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90)
    if not placed.any():
        raise InputError(target, "no object has a sky position (ra, dec) to partition it by")
    if not placed.all():
        said.append(f"left out {int((~placed).sum())} objects without a sky position")
    chosen = np.flatnonzero(placed)
    located = EmbeddingTable(rows.iloc[chosen], table.vectors[chosen], {})
    frame = located.arrow().to_pandas(types_mapper=pd.ArrowDtype)  # embedding: list<float32>
    fresh = folder.with_name(f".{folder.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    try:
        with warnings.catch_warnings():  # the libraries' notes on their own use of pandas
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            catalogue = lsdb.from_dataframe(
                frame, ra_column="ra", dec_column="dec", partition_bytes=HATS_PARTITION_BYTES
            )
            catalogue.write_catalog(fresh, catalog_name=folder.name, progress_bar=progress)
        if folder.exists():
            folder.rmdir()  # empty: checked above
        fresh.rename(folder)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return folder, said


def _exported(
    target: str | Path, join: str | Path | CatalogueJoin | None
) -> tuple[RunTable, list[str]]:
    """What :func:`export_table` and :func:`export_hats` write: the table with the run's
    labels and marks and the catalogue ``join``, and one line on each join made."""
    table, said = RunTable.open(target).annotated()
    if join is not None:
        join = CatalogueJoin.of(join)
        table, found = table.join(join)
        said.append(found.summary(join.path))
    return table, said


def _radius_arcsec(row) -> float:
    try:
        side = max(int(n) for n in str(row["shape"]).split("x")[-2:])
        scale = float(row["pixel_scale"])
    except (KeyError, ValueError):
        return DEFAULT_RADIUS.to_value(u.arcsec)
    radius = side * scale / 2
    return radius if math.isfinite(radius) and radius > 0 else DEFAULT_RADIUS.to_value(u.arcsec)


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)
