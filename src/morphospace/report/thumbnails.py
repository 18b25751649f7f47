"""Thumbnails for figures and the HTML page: per-object asinh stretch, cubes as moment 0.

Thumbnails are made from the original files (not the network's input), so what a user sees
is the object itself: masked pixels are black, the aspect ratio is kept.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Sequence
from functools import partial

import numpy as np
from PIL import Image

from morphospace.io import SkyImage, read_many

THUMB_SIZE = 64


def asinh_stretch(plane: np.ndarray, low: float = 0.5, high: float = 99.7, soft: float = 0.1):
    """Map a 2-D image to [0, 1]: percentile clip, then ``asinh(v / soft) / asinh(1 / soft)``.

    Non-finite pixels become 0; a constant image becomes all 0.
    """
    finite = np.isfinite(plane)
    out = np.zeros(plane.shape, dtype=np.float32)
    if not finite.any():
        return out
    lo, hi = np.percentile(plane[finite], [low, high])
    if hi <= lo:
        return out
    scaled = np.clip((plane[finite] - lo) / (hi - lo), 0.0, 1.0)
    out[finite] = np.arcsinh(scaled / soft) / np.arcsinh(1.0 / soft)
    return out


def moment0(cube: np.ndarray) -> np.ndarray:
    """Integrated intensity (channel sum, blanks ignored); NaN where all channels are blank."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total = np.nansum(cube, axis=0)
    total[np.all(~np.isfinite(cube), axis=0)] = np.nan
    return total


def thumbnail(image: SkyImage | np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """A (size, size) uint8 thumbnail, the object centred with its aspect ratio kept."""
    data = image.data if isinstance(image, SkyImage) else np.asarray(image, dtype=np.float32)
    plane = moment0(data) if data.ndim == 3 else data
    stretched = Image.fromarray((asinh_stretch(plane) * 255).round().astype(np.uint8))
    height, width = plane.shape
    scale = size / max(height, width)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = stretched.resize(shape, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(resized, ((size - shape[0]) // 2, (size - shape[1]) // 2))
    return np.asarray(canvas)


def _thumbnail_of(image: SkyImage, size: int) -> tuple[str, np.ndarray]:
    return image.meta.path, thumbnail(image, size)


def load_thumbnails(
    paths: Sequence[str],
    hdus: Sequence[int],
    size: int = THUMB_SIZE,
    workers: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Thumbnails of the objects in files ``paths`` (HDU ``hdus``): (N, size, size) uint8.

    A file that can no longer be read gets a grey square; its problem is returned.
    """
    out = np.full((len(paths), size, size), 64, dtype=np.uint8)
    problems: list[str] = []
    by_hdu: dict[int, list[int]] = {}
    for index, hdu in enumerate(hdus):
        by_hdu.setdefault(int(hdu), []).append(index)
    for hdu, members in by_hdu.items():
        result = read_many(
            [paths[i] for i in members],
            hdu=hdu,
            min_side=1,
            on_error="skip",
            transform=partial(_thumbnail_of, size=size),
            workers=workers,
        )
        made = dict(result.items)
        for i in members:
            if paths[i] in made:
                out[i] = made[paths[i]]
        problems.extend(str(problem) for problem in result.problems)
    return out, problems


def thumbnails_of(rows, workers: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Thumbnails of the objects in rows of an embedding table (``path`` and ``hdu``)."""
    paths, hdus = rows["path"].astype(str).tolist(), rows["hdu"].astype(int).tolist()
    return load_thumbnails(paths, hdus, workers=workers)


def png_data_uri(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,…`` URI of a uint8 image, for self-contained HTML."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
