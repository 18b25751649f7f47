"""One object's pixels as DS9 or CARTA shows them: a stretch over an interval of values in a
colour map, and the geometry the explorer draws over them.

The picture comes from :mod:`astropy.visualization` (stretches and intervals), so that what
the page shows is what astropy users get; the page only draws it and the overlays:

- a scale bar, from the pixel scale (arcsec per pixel) of the header's WCS;
- the beam ellipse, from ``BMAJ``/``BMIN``/``BPA``;
- the north and east arrows, from the WCS at the image's centre;
- the pixel value and sky position under the pointer (:func:`value_at`).

Cubes show their moment 0 by default, or one channel. Pictures are in display order, the
top row first, with FITS row 0 at the bottom as DS9 shows it; every direction given here is
in those display coordinates (x to the right, y down), in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from morphospace.choices import (
    COLOUR_MAP,
    COLOUR_MAPS,
    INTERVAL,
    INTERVALS,
    STRETCH,
    STRETCHES,
    ColourMap,
    Interval,
    Stretch,
    check_choice,
)
from morphospace.errors import InputError
from morphospace.io import SkyImage
from morphospace.report.thumbnails import colour_table, moment0

__all__ = ["ViewGeometry", "geometry", "plane_of", "render", "value_at"]

#: Blank pixels (NaN in the file) are drawn in this colour.
BLANK_RGB = (40, 44, 52)


def plane_of(image: SkyImage, channel: int | None = None) -> np.ndarray:
    """The 2-D plane shown: the image, or a cube's moment 0 (``channel`` None) or channel."""
    data = image.data
    if data.ndim == 2:
        return data
    if channel is None:
        return moment0(data)
    if not 0 <= channel < data.shape[0]:
        raise InputError(image.meta.path, f"has channels 0-{data.shape[0] - 1}, not {channel}")
    return data[channel]


def render(
    plane: np.ndarray,
    stretch: Stretch = STRETCH,
    interval: Interval = INTERVAL,
    colour_map: ColourMap = COLOUR_MAP,
) -> np.ndarray:
    """The plane as an (H, W, 3) uint8 picture, top row first.

    ``interval`` picks the values mapped to the ends of the colour map (a percentile,
    all of them, or IRAF's zscale), ``stretch`` how values between are brightened.
    """
    from astropy import visualization as vis  # loads matplotlib: only when a view is asked

    stretches = {"linear": vis.LinearStretch, "sqrt": vis.SqrtStretch, "log": vis.LogStretch,
                 "asinh": lambda: vis.AsinhStretch(0.1)}  # fmt: skip
    intervals = {"99.5%": lambda: vis.PercentileInterval(99.5), "minmax": vis.MinMaxInterval,
                 "zscale": vis.ZScaleInterval}  # fmt: skip
    check_choice("stretch", stretch, STRETCHES)
    check_choice("interval", interval, INTERVALS)
    check_choice("colour map", colour_map, COLOUR_MAPS)
    finite = np.isfinite(plane)
    scaled = np.zeros(plane.shape, dtype=float)
    if finite.any():
        values = plane[finite]
        low, high = intervals[interval]().get_limits(values)
        if high > low:
            unit = np.clip((values - low) / (high - low), 0.0, 1.0)
            scaled[finite] = np.clip(stretches[stretch]()(unit, clip=True), 0.0, 1.0)
    picture = colour_table(colour_map)[(scaled * 255).round().astype(int)]
    picture[~finite] = BLANK_RGB
    return np.ascontiguousarray(picture[::-1])


@dataclass(frozen=True)
class ViewGeometry:
    """What the page draws over an object's picture (display coordinates, pixels).

    Attributes
    ----------
    width, height : int
        The picture's size in pixels.
    channels : int
        The cube's channels (0 for an image).
    channel_values : list of float
        Each channel's velocity (km/s) or spectral value, for the channel slider.
    channel_unit : str
    pixel_scale : float or None
        Arcsec per pixel, from the WCS.
    beam : tuple of (major, minor, angle) or None
        The beam's FWHM axes in pixels and the angle of its major axis (degrees, from the
        x axis towards y, display coordinates).
    north, east : tuple of (dx, dy) or None
        Unit vectors of north and east at the centre.
    unit : str
        The pixel values' unit (``BUNIT``).
    """

    width: int
    height: int
    channels: int = 0
    channel_values: list[float] = field(default_factory=list)
    channel_unit: str = ""
    pixel_scale: float | None = None
    beam: tuple[float, float, float] | None = None
    north: tuple[float, float] | None = None
    east: tuple[float, float] | None = None
    unit: str = ""


def geometry(image: SkyImage) -> ViewGeometry:
    """The scale, beam, compass and channels of an object, from its header."""
    meta = image.meta
    height, width = image.data.shape[-2:]
    channels, values, unit = 0, [], ""
    if image.data.ndim == 3:
        channels = image.data.shape[0]
        if meta.spectral is not None:
            try:
                values, unit = meta.spectral.velocities().tolist(), "km/s"
            except ValueError:
                values, unit = meta.spectral.values.tolist(), meta.spectral.unit
    north = east = beam = None
    celestial = image.wcs.celestial if image.wcs is not None else None
    if celestial is not None and celestial.has_celestial:
        north, east = _compass(celestial, width, height, meta.pixel_scale)
    scale = meta.pixel_scale
    if meta.beam is not None and scale and north is not None and east is not None:
        pa = math.radians(meta.beam.pa)  # from north through east
        along = (
            north[0] * math.cos(pa) + east[0] * math.sin(pa),
            north[1] * math.cos(pa) + east[1] * math.sin(pa),
        )
        angle = math.degrees(math.atan2(along[1], along[0]))
        beam = (meta.beam.major / scale, meta.beam.minor / scale, angle)
    return ViewGeometry(
        width, height, channels, values, unit, scale, beam, north, east, meta.bunit or ""
    )


def _compass(celestial, width: int, height: int, scale: float | None):
    """Unit vectors of north and east at the centre pixel, in display coordinates."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    ra, dec = (float(v) for v in celestial.pixel_to_world_values(cx, cy))
    step = (scale or 1.0) / 3600 * 5  # five pixels, in degrees
    found = []
    for d_ra, d_dec in ((0.0, step), (step / max(math.cos(math.radians(dec)), 1e-6), 0.0)):
        x, y = (float(v) for v in celestial.world_to_pixel_values(ra + d_ra, dec + d_dec))
        dx, dy = x - cx, -(y - cy)  # FITS y grows up, display y down
        length = math.hypot(dx, dy)
        if not math.isfinite(length) or length == 0:
            return None, None
        found.append((dx / length, dy / length))
    return found[0], found[1]


def value_at(image: SkyImage, plane: np.ndarray, x: float, y: float) -> dict[str, float | None]:
    """The value of the plane and the sky position at display pixel (``x``, ``y``)."""
    height, width = plane.shape
    column, row = math.floor(x), math.floor(y)
    if not (0 <= column < width and 0 <= row < height):
        raise InputError(image.meta.path, f"has no pixel at ({x:g}, {y:g})")
    fits_y = height - 1 - row
    value = float(plane[fits_y, column])
    found: dict[str, float | None] = {
        "x": column,
        "y": fits_y,
        "value": value if math.isfinite(value) else None,
        "ra": None,
        "dec": None,
    }
    celestial = image.wcs.celestial if image.wcs is not None else None
    if celestial is not None and celestial.has_celestial:
        ra, dec = (float(v) for v in celestial.pixel_to_world_values(column, fits_y))
        if math.isfinite(ra) and math.isfinite(dec):
            found["ra"], found["dec"] = ra % 360, dec
    return found
