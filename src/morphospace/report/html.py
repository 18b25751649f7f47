"""The interactive page: one self-contained HTML file (data, thumbnails and code inline).

No CDN and no network: the map is drawn on a canvas by a few hundred lines of plain
JavaScript in ``page.html``, and every thumbnail is a ``data:`` URI.
"""

from __future__ import annotations

import html
import json
import math
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from morphospace.files import atomic_write
from morphospace.report.figures import natural_key
from morphospace.report.thumbnails import png_data_uri


def _plain(value):
    """JSON-safe scalar: NaN and None become null, numpy scalars plain Python."""
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(value) else round(float(value), 6)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value if isinstance(value, (int, str, bool)) else str(value)


def colour_column(values: pd.Series, categorical: bool) -> dict:
    """A colouring choice for the page: category levels, or a numeric range."""
    if categorical:
        labels = [None if pd.isna(v) else str(v) for v in values]
        levels = sorted({v for v in labels if v is not None}, key=natural_key)
        return {"kind": "category", "values": labels, "levels": levels}
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return {
        "kind": "number",
        "values": [_plain(v) for v in numbers],
        "min": float(finite.min()) if len(finite) else 0.0,
        "max": float(finite.max()) if len(finite) else 1.0,
    }


def write_page(
    path: Path,
    *,
    title: str,
    ids: list[str],
    names: list[str | None],
    xy: np.ndarray,
    thumbs: np.ndarray,
    neighbours: np.ndarray,
    similarity: np.ndarray,
    colours: dict[str, dict],
    details: pd.DataFrame,
) -> Path:
    """Write the interactive report page."""
    data = {
        "ids": ids,
        "names": [_plain(name) for name in names],
        "points": np.round(xy.astype(float), 4).tolist(),
        "thumbs": [png_data_uri(thumb) for thumb in thumbs],
        "neighbours": neighbours.astype(int).tolist(),
        "similarity": np.round(similarity.astype(float), 4).tolist(),
        "colours": colours,
        "details": {column: [_plain(v) for v in details[column]] for column in details.columns},
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    template = files("morphospace.report").joinpath("page.html").read_text(encoding="utf-8")
    page = template.replace("__TITLE__", html.escape(title, quote=False)).replace(
        "__DATA__", payload
    )
    atomic_write(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return path
