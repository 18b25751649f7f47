"""Thumbnails for figures and the HTML page: per-object asinh stretch, cubes as moment 0,
in the one colour map of every picture (:data:`~morphospace.choices.COLOUR_MAP`).

Thumbnails are made from the original files (not the network's input), so what a user sees
is the object itself: masked pixels are black, the aspect ratio is kept. They are framed
on the emission by the run's own ``crop`` step, as the network's input is, so a small
source in a large cutout fills its thumbnail. Their rows are in display order, top row
first, with FITS row 0 at the bottom as DS9 shows it: draw them with ``origin="upper"``
(matplotlib's default) or as a PNG.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Sequence
from functools import cache, partial

import numpy as np
from PIL import Image

from morphospace.choices import COLOUR_MAP
from morphospace.io import SkyImage, read_many
from morphospace.preprocess.chain import Crop
from morphospace.preprocess.steps import crop_to_emission

__all__ = [
    "THUMB_SIZE",
    "asinh_stretch",
    "colour_table",
    "coloured",
    "load_thumbnails",
    "moment0",
    "png_bytes",
    "png_data_uri",
    "thumbnail",
    "thumbnails_of",
]

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


def thumbnail(
    image: SkyImage | np.ndarray, size: int = THUMB_SIZE, framing: Crop | None = None
) -> np.ndarray:
    """A (size, size) uint8 thumbnail, the object centred with its aspect ratio kept.

    ``framing`` crops the image to its emission first, as that step frames the network's
    input. Row 0 of the result is the top of the picture (the last FITS row).
    """
    data = image.data if isinstance(image, SkyImage) else np.asarray(image, dtype=np.float32)
    plane = moment0(data) if data.ndim == 3 else data
    if framing is not None:
        plane = crop_to_emission(plane, framing.threshold, framing.margin, framing.min_side)
    pixels = (asinh_stretch(plane) * 255).round().astype(np.uint8)
    stretched = Image.fromarray(np.ascontiguousarray(pixels[::-1]))  # FITS row 0 at the bottom
    height, width = plane.shape
    scale = size / max(height, width)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = stretched.resize(shape, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(resized, ((size - shape[0]) // 2, (size - shape[1]) // 2))
    return np.asarray(canvas)


def _thumbnail_of(image: SkyImage, size: int, framing: Crop | None) -> tuple[str, np.ndarray]:
    return image.meta.path, thumbnail(image, size, framing)


def load_thumbnails(
    paths: Sequence[str],
    hdus: Sequence[int],
    size: int = THUMB_SIZE,
    workers: int | None = None,
    framing: Crop | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Thumbnails of the objects in files ``paths`` (HDU ``hdus``): (N, size, size) uint8.

    A file that can no longer be read gets a grey square; its problem is returned.
    ``framing`` is passed to :func:`thumbnail`.
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
            transform=partial(_thumbnail_of, size=size, framing=framing),
            workers=workers,
        )
        made = dict(result.items)
        for i in members:
            if paths[i] in made:
                out[i] = made[paths[i]]
        problems.extend(str(problem) for problem in result.problems)
    return out, problems


def thumbnails_of(
    rows, workers: int | None = None, framing: Crop | None = None
) -> tuple[np.ndarray, list[str]]:
    """Thumbnails of the objects in rows of an embedding table (``path`` and ``hdu``)."""
    paths, hdus = rows["path"].astype(str).tolist(), rows["hdu"].astype(int).tolist()
    return load_thumbnails(paths, hdus, workers=workers, framing=framing)


@cache
def colour_table(colour_map: str = COLOUR_MAP) -> np.ndarray:
    """The 256 RGB colours (uint8) of a matplotlib colour map."""
    from matplotlib import colormaps

    return (colormaps[colour_map](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def coloured(pixels: np.ndarray, colour_map: str = COLOUR_MAP) -> np.ndarray:
    """A (H, W) uint8 thumbnail in a matplotlib colour map: (H, W, 3) uint8, as the PNG
    maps draw it."""
    return colour_table(colour_map)[pixels]


def png_bytes(pixels: np.ndarray, optimize: bool = True) -> bytes:
    """A uint8 image as the bytes of a PNG file; a (H, W) thumbnail in :data:`COLOUR_MAP`.
    ``optimize`` makes the file smaller and takes about five times as long."""
    buffer = io.BytesIO()
    picture = coloured(pixels) if pixels.ndim == 2 else pixels
    Image.fromarray(picture).save(buffer, format="PNG", optimize=optimize)
    return buffer.getvalue()


def png_data_uri(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,…`` URI of a uint8 image, for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")
