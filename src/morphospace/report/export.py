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

Every file is written atomically; the embedding vectors stay in the Parquet table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from morphospace.embed import EmbeddingTable
from morphospace.errors import InputError
from morphospace.files import atomic_write

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
SUFFIXES = (*_TABLE_FORMATS, ".reg", ".txt")
#: Radius of a region whose object has no known angular size.
DEFAULT_RADIUS = 10 * u.arcsec


def selection_table(table: EmbeddingTable, indices: Sequence[int] | None = None) -> Table:
    """The chosen rows (all by default) as an astropy Table with units, without vectors."""
    rows = table.rows if indices is None else table.rows.iloc[list(indices)]
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


def write_selection(
    table: EmbeddingTable, path: str | Path, indices: Sequence[int] | None = None
) -> Path:
    """Write the chosen rows to ``path`` in the format its suffix names (see the module)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, f"unknown export format; use one of {', '.join(SUFFIXES)}")
    chosen = selection_table(table, indices)
    if suffix == ".txt":
        text = "".join(f"{p}\n" for p in chosen["path"])
        atomic_write(path, lambda temporary: temporary.write_text(text))
    elif suffix == ".reg":
        atomic_write(path, lambda temporary: temporary.write_text(ds9_regions(chosen)))
    else:
        format_ = _TABLE_FORMATS[suffix]
        atomic_write(
            path, lambda temporary: chosen.write(temporary, format=format_, overwrite=True)
        )
    return path


def ds9_regions(chosen: Table) -> str:
    """DS9 region text: a circle (fk5, degrees) at each object with a sky position.

    The radius is half the object's larger side, from its shape and pixel scale, or
    :data:`DEFAULT_RADIUS` when either is unknown.
    """
    lines = ["# Region file format: DS9 version 4.1", "global color=cyan", "fk5"]
    for row in chosen:
        ra, dec = float(row["ra"]), float(row["dec"])
        if not (math.isfinite(ra) and math.isfinite(dec)):
            continue
        radius = _radius_arcsec(row)
        label = str(row["id"]).replace("}", ")").replace("{", "(")
        lines.append(f'circle({ra:.7f},{dec:.7f},{radius:.2f}") # text={{{label}}}')
    return "\n".join(lines) + "\n"


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
