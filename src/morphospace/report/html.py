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
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from morphospace.files import atomic_write
from morphospace.report.thumbnails import png_data_uri

__all__ = ["CATEGORICAL", "json_columns", "json_value", "page_data", "viewer_file", "write_page"]

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


def json_columns(rows: pd.DataFrame) -> dict[str, Any]:
    """Every column of ``rows`` but the embedding, ready for JSON.

    A column of numbers travels as ``{"float64": BASE64}``: little-endian float64 with NaN
    for no value, which the page decodes in a few milliseconds, where a million numbers as
    JSON text take seconds to write and to read. Any other column is a list of JSON values.
    """
    return {str(name): _column(rows[name]) for name in rows.columns if name != "embedding"}


def _column(values: pd.Series) -> list[Any] | dict[str, str]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype="<f8", na_value=np.nan)
        return {"float64": base64.b64encode(numbers.tobytes()).decode("ascii")}
    present = values.astype(object).where(values.notna(), None)
    return [json_value(v) for v in present.tolist()]


def page_data(rows: pd.DataFrame) -> dict[str, Any]:
    """What the viewer needs of a table: its columns, and which of them name groups."""
    categorical = [
        str(name)
        for name in rows.columns
        if name in CATEGORICAL
        or (name != "embedding" and not pd.api.types.is_numeric_dtype(rows[name]))
    ]
    return {"n": len(rows), "columns": json_columns(rows), "categorical": categorical}


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
