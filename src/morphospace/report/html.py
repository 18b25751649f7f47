"""The viewer: one page that shows an embedding table, live or read-only.

``viewer/index.html`` with its bundled ``viewer.js`` (built from ``frontend/``) is the
page of ``morphospace explore``, whose server answers its ``/api`` requests. ``report``
writes the same page as one self-contained file, read-only: the table's columns, each
object's thumbnail as a ``data:`` URI and its nearest neighbours are inlined with the
code, so it opens offline and can be sent by e-mail. The page loads nothing from a CDN.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from morphospace.files import atomic_write
from morphospace.report._fast import encode_text
from morphospace.report.thumbnails import png_data_uri

__all__ = [
    "CATEGORICAL",
    "FIRST_COLUMNS",
    "binary_columns",
    "categorical_of",
    "encoded_columns",
    "inline_columns",
    "json_value",
    "page_data",
    "viewer_file",
    "write_page",
]

#: Columns of whole numbers that name groups, to colour by group however many there are.
CATEGORICAL = ("cluster", "cluster_hdbscan", "cluster_agglomerative")


def json_value(value: Any) -> Any:
    """A JSON-safe scalar: NaN and None become null, numpy scalars plain Python; a vector
    (the embedding) is not sent."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.floating):
        # float32 by its shortest text, so 0.3 does not travel as 0.30000001192092896
        return json_value(float(str(value)) if value.dtype == np.float32 else value.item())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return None
    return value


#: A text column of at most this many distinct values travels as codes into its names.
MAX_NAMES = 1000
#: The columns of the first paint: the rest are fetched when the page asks for them.
FIRST_COLUMNS = ("id", "x", "y", "cluster")


def encoded_columns(rows: pd.DataFrame) -> tuple[dict[str, Any], list[bytes]]:
    """Every column of ``rows`` but the embedding, as the page reads them: a header per
    column and the chunks of bytes it points to (by index), each 8-byte aligned.

    - numbers (and booleans): ``{"float64": k}``, little-endian float64, NaN for no value;
    - text of few distinct values (a class, a category; at most :data:`MAX_NAMES` and half
      the rows): ``{"codes": k, "names": [...]}``, int32 codes into the names, -1 for none;
    - any other text (ids, paths): ``{"lines": TEXT}``, the values one a line, "" for none.

    A million numbers are 8 MB that the page reads in place, where as JSON text they take
    seconds to write and to read.
    """
    header: dict[str, Any] = {}
    chunks: list[bytes] = []
    for name in rows.columns:
        if name == "embedding":
            continue
        values = rows[name]
        if pd.api.types.is_numeric_dtype(values):  # booleans too, as 0 and 1
            numbers = values.astype(float).to_numpy(dtype="<f8", na_value=np.nan)
            header[str(name)] = {"float64": len(chunks)}
            chunks.append(numbers.tobytes())
            continue
        encoded = encode_text(values, MAX_NAMES)
        if isinstance(encoded, str):
            header[str(name)] = {"lines": encoded}
        else:  # names repeat: codes
            codes, names = encoded
            header[str(name)] = {"codes": len(chunks), "names": names}
            chunks.append(_padded(codes.astype("<i4").tobytes()))
    return header, chunks


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def _pointing(header: dict[str, Any], to) -> dict[str, Any]:
    """The header with each column's chunk index k replaced by ``to(k)``."""
    for column in header.values():
        for kind in ("float64", "codes"):
            if kind in column:
                column[kind] = to(column[kind])
    return header


def inline_columns(rows: pd.DataFrame) -> dict[str, Any]:
    """:func:`encoded_columns` for JSON: each chunk inline, in base64."""
    header, chunks = encoded_columns(rows)
    return _pointing(header, lambda k: base64.b64encode(chunks[k]).decode("ascii"))


def binary_columns(rows: pd.DataFrame, extra: dict[str, Any] | None = None) -> bytes:
    """:func:`encoded_columns` as one binary payload: a little-endian uint32 length, the
    JSON header (with the ``extra`` keys), zeros to a multiple of 8 bytes, then the chunks;
    each column gives its chunk's byte offset from there. The page reads the numbers in
    place, as typed arrays."""
    header, chunks = encoded_columns(rows)
    offsets = list(itertools.accumulate((len(chunk) for chunk in chunks), initial=0))
    header = _pointing(header, offsets.__getitem__)
    head = json.dumps({"n": len(rows), "columns": header, **(extra or {})}).encode("utf-8")
    return _padded(len(head).to_bytes(4, "little") + head) + b"".join(chunks)


def page_data(rows: pd.DataFrame) -> dict[str, Any]:
    """What the viewer needs of a table: its columns, and which of them name groups."""
    return {"n": len(rows), "columns": inline_columns(rows), "categorical": categorical_of(rows)}


def categorical_of(rows: pd.DataFrame) -> list[str]:
    """The columns that name groups: the clusters, and text."""
    return [
        str(name)
        for name in rows.columns
        if name in CATEGORICAL
        or (name != "embedding" and not pd.api.types.is_numeric_dtype(rows[name]))
    ]


def viewer_file(name: str) -> bytes:
    """A file of the viewer, vendored into the package (see ``frontend/``)."""
    return files("morphospace.report").joinpath("viewer", name).read_bytes()


def write_page(
    path: Path,
    *,
    title: str,
    rows: pd.DataFrame,
    thumbs: np.ndarray,
    neighbours: np.ndarray,
    similarity: np.ndarray,
) -> Path:
    """Write the viewer, read-only, as one self-contained HTML file."""
    data = page_data(rows)
    data["title"] = title
    data["thumbs"] = [png_data_uri(thumb) for thumb in thumbs]
    data["neighbours"] = neighbours.astype(int).tolist()
    data["similarity"] = np.round(similarity.astype(float), 4).tolist()
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    script = viewer_file("viewer.js").decode("utf-8").replace("</script", "<\\/script")
    page = viewer_file("index.html").decode("utf-8")
    heading = f"<title>{html.escape(title)}</title>"
    page = page.replace("<title>morphospace explorer</title>", heading)
    page = page.replace(
        '<script src="static/viewer.js"></script>',
        f'<script type="application/json" id="morphospace-data">{payload}</script>\n'
        f"<script>{script}</script>",
    )
    atomic_write(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return path
