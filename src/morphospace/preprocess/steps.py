"""Pure array functions that make objects comparable.

Each takes an array of shape (H, W) or (C, H, W) and returns a new float32 array; none
modifies its input. NaN marks blank pixels until :func:`fill_masked` replaces them. Every
function is safe on constant or all-zero input: it returns finite values, never NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from scipy import ndimage

from morphospace.preprocess import _fast

__all__ = [
    "FillMethod",
    "NormaliseMethod",
    "StretchKind",
    "background_and_noise",
    "cap_size",
    "clip_percentile",
    "crop_to_emission",
    "emission_box",
    "fill_masked",
    "noise_stretch",
    "normalise",
    "resample",
    "stretch",
]

FillMethod = Literal["median", "zero", "min"]
StretchKind = Literal["linear", "log", "sqrt", "asinh"]
NormaliseMethod = Literal["zscore", "minmax", "none"]


def _as_float32(data: np.ndarray) -> np.ndarray:
    # Native byte order: big-endian FITS arrays would otherwise leak into torch.
    return np.array(data, dtype=np.float32, copy=True)


def _reduce_axes(data: np.ndarray, per_channel: bool) -> tuple[int, ...] | None:
    return (-2, -1) if per_channel and data.ndim == 3 else None


class _Reductions(NamedTuple):
    min: Callable
    max: Callable
    mean: Callable
    std: Callable
    percentile: Callable


_PLAIN = _Reductions(np.min, np.max, np.mean, np.std, np.percentile)
_NAN_SKIPPING = _Reductions(np.nanmin, np.nanmax, np.nanmean, np.nanstd, np.nanpercentile)


def _reductions(data: np.ndarray) -> _Reductions:
    """NaN-skipping reductions only when needed: the plain ones are several times faster."""
    return _PLAIN if np.isfinite(data).all() else _NAN_SKIPPING


def fill_masked(
    data: np.ndarray, mask: np.ndarray | None = None, method: FillMethod = "median"
) -> np.ndarray:
    """Replace blank pixels (``mask`` True, or non-finite) with the median, zero or minimum.

    The fill value is taken per channel from the valid pixels; a channel with no valid
    pixel is filled with zero.
    """
    out = _as_float32(data)
    blank = ~np.isfinite(out)
    if mask is not None:
        blank |= np.broadcast_to(mask, out.shape)
    if not blank.any():
        return out
    planes = out.reshape(-1, *out.shape[-2:])
    blank_planes = blank.reshape(planes.shape)
    for plane, plane_blank in zip(planes, blank_planes, strict=True):
        valid = plane[~plane_blank]
        if method == "zero" or valid.size == 0:
            value = 0.0
        elif method == "median":
            value = _fast.median(valid)
        elif method == "min":
            value = float(valid.min())
        else:
            raise ValueError(f"unknown fill method {method!r}; use median, zero or min")
        plane[plane_blank] = value
    return out


def clip_percentile(
    data: np.ndarray, lower: float = 0.5, upper: float = 99.5, per_channel: bool = False
) -> np.ndarray:
    """Clip values to the ``lower`` and ``upper`` percentiles of the finite pixels."""
    if not 0.0 <= lower < upper <= 100.0:
        raise ValueError(
            f"percentiles must satisfy 0 <= lower < upper <= 100, got {lower}, {upper}"
        )
    out = _as_float32(data)
    if not np.isfinite(out).any():
        return out
    axes = _reduce_axes(out, per_channel)
    percentile = _reductions(out).percentile
    lo, hi = percentile(out, [lower, upper], axis=axes, keepdims=axes is not None)
    return np.clip(out, lo, hi).astype(np.float32, copy=False)


def _unit_range(data: np.ndarray, per_channel: bool) -> np.ndarray:
    """Rescale to [0, 1]; a constant image becomes all zeros instead of 0/0."""
    axes = _reduce_axes(data, per_channel)
    keep = axes is not None
    reduce = _reductions(data)
    lo = reduce.min(data, axis=axes, keepdims=keep)
    span = reduce.max(data, axis=axes, keepdims=keep) - lo
    safe_span = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (data - lo) / safe_span, 0.0).astype(np.float32)


def stretch(
    data: np.ndarray,
    kind: StretchKind = "asinh",
    softening: float = 0.1,
    per_channel: bool = False,
) -> np.ndarray:
    """Rescale to [0, 1], then apply an intensity stretch; the result stays in [0, 1].

    ``softening`` sets where asinh turns from linear to logarithmic (a fraction of the
    range, as in Lupton et al. 1999), and is the exponent base parameter ``a`` of the log
    stretch ``log10(1 + x/softening) / log10(1 + 1/softening)``.
    """
    if softening <= 0:
        raise ValueError(f"softening must be positive, got {softening}")
    x = _unit_range(_as_float32(data), per_channel)
    if kind == "linear":
        out = x
    elif kind == "sqrt":
        out = np.sqrt(x)
    elif kind == "asinh":
        out = np.arcsinh(x / softening) / np.arcsinh(1.0 / softening)
    elif kind == "log":
        out = np.log10(1.0 + x / softening) / np.log10(1.0 + 1.0 / softening)
    else:
        raise ValueError(f"unknown stretch {kind!r}; use linear, log, sqrt or asinh")
    return out.astype(np.float32, copy=False)


def normalise(
    data: np.ndarray, method: NormaliseMethod = "zscore", per_channel: bool = False
) -> np.ndarray:
    """Normalise intensities: ``zscore`` (zero mean, unit spread) or ``minmax`` (to [0, 1]).

    A zero spread or range gives zeros rather than a division by zero, so constant,
    all-zero or nearly empty cutouts stay finite.
    """
    out = _as_float32(data)
    if method == "none":
        return out
    if method == "minmax":
        return _unit_range(out, per_channel)
    if method != "zscore":
        raise ValueError(f"unknown normalisation {method!r}; use zscore, minmax or none")
    axes = _reduce_axes(out, per_channel)
    keep = axes is not None
    reduce = _reductions(out)
    if not keep:  # one spread, the common case: no masked division
        if reduce is _PLAIN:  # np.std's own arithmetic on the centred copy: one pass fewer
            centred = out - out.mean()
            std = np.sqrt(np.add.reduce(centred * centred, axis=None) / centred.size)
            return centred / std if std > 0 else np.zeros_like(out)
        mean, std = reduce.mean(out), reduce.std(out)
        return ((out - mean) / std).astype(np.float32) if std > 0 else np.zeros_like(out)
    mean = reduce.mean(out, axis=axes, keepdims=True)
    std = reduce.std(out, axis=axes, keepdims=True)
    safe_std = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (out - mean) / safe_std, 0.0).astype(np.float32)


def resample(data: np.ndarray, factor: float) -> np.ndarray:
    """Resample the two spatial axes by ``factor`` (< 1 shrinks), ignoring blank pixels.

    Shrinking first smooths with a Gaussian of sigma ``(1/factor - 1)/2`` pixels so the
    coarser grid does not alias. Blank (NaN) pixels are left out of the interpolation by
    normalised convolution and stay blank where no valid pixel contributes.
    """
    if factor <= 0 or not np.isfinite(factor):
        raise ValueError(f"resampling factor must be positive, got {factor}")
    out = _as_float32(data)
    if abs(factor - 1.0) < 1e-6:
        return out
    valid = np.isfinite(out).astype(np.float32)
    values = np.where(valid > 0, out, 0.0).astype(np.float32)
    spatial = (0.0,) * (out.ndim - 2)
    if factor < 1:
        sigma = spatial + ((1.0 / factor - 1.0) / 2.0,) * 2
        values = ndimage.gaussian_filter(values, sigma, mode="constant")
        valid = ndimage.gaussian_filter(valid, sigma, mode="constant")
    shape = out.shape[:-2] + tuple(max(1, round(n * factor)) for n in out.shape[-2:])
    zoom = tuple(new / old for new, old in zip(shape, out.shape, strict=True))
    values = ndimage.zoom(values, zoom, order=1, mode="nearest", grid_mode=True)
    weights = ndimage.zoom(valid, zoom, order=1, mode="nearest", grid_mode=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(weights > 0.25, values / weights, np.nan)
    return result.astype(np.float32)


def cap_size(data: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink the image, keeping its aspect ratio, so its longer side is at most ``max_side``."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    longest = max(data.shape[-2:])
    if longest <= max_side:
        return _as_float32(data)
    return resample(data, max_side / longest)


def _finite_and_median(plane: np.ndarray) -> tuple[np.ndarray, float]:
    finite = np.isfinite(plane)
    values = plane.ravel() if finite.all() else plane[finite]
    return values, _fast.median(values) if values.size else 0.0


def background_and_noise(plane: np.ndarray) -> tuple[float, float]:
    """Robust background (median) and noise (1.4826 × MAD) of a 2-D image.

    Where more than half of the pixels share one value (a background clipped to zero, a
    constant cutout), the MAD is zero; the noise then comes from the other pixels. A
    constant image has zero noise.
    """
    values, background = _finite_and_median(plane)
    if values.size == 0:
        return 0.0, 0.0
    deviation = np.abs(values - background)
    noise = 1.4826 * _fast.median(deviation)
    if noise == 0.0:
        varying = deviation[deviation > 0]
        noise = 1.4826 * _fast.median(varying) if varying.size else 0.0
    return background, noise


_NEIGHBOURS = ndimage.generate_binary_structure(2, 1)  # label's default, built once


def emission_box(
    plane: np.ndarray, threshold: float = 3.0, smoothing: float = 1.0
) -> tuple[int, int, int, int] | None:
    """Bounding box ``(y0, y1, x0, x1)`` of the significant emission in a 2-D image.

    The image is smoothed by a Gaussian of ``smoothing`` px, and pixels above
    ``threshold`` times the smoothed noise form islands. Islands that reach the brightest
    one's peak within a factor of 10 (and at least twice the threshold) are kept: the
    object and its bright companions, not noise peaks. ``None`` when nothing is significant.
    """
    values, background = _finite_and_median(plane)  # the noise comes from the smoothed image
    level = plane - background
    if values.size < plane.size:
        level = np.nan_to_num(level)
    smooth = ndimage.gaussian_filter(level, smoothing, mode="reflect")
    _, noise = background_and_noise(smooth)
    if noise == 0.0:
        noise = float(np.abs(smooth).max()) * 1e-3
        if noise == 0.0:
            return None
    above = smooth > threshold * noise
    islands, count = ndimage.label(above, _NEIGHBOURS)
    if count == 0:
        return None
    # An island is kept if any of its pixels reaches the cut (in float64, as the peaks were).
    # The brightest pixel lies in an island: unless it is below the cut's floor of twice
    # the threshold, its island is kept, and with one island that island is all of `above`.
    peak = float(smooth.max())
    cut = np.float64(max(2 * threshold * noise, 0.1 * peak))
    if peak < cut:
        return None
    if count == 1:
        member = above
    else:
        kept = np.zeros(count + 1, dtype=bool)
        kept[islands[smooth >= cut]] = True
        kept[0] = False
        member = kept[islands]
    rows = np.flatnonzero(member.any(axis=1))
    cols = np.flatnonzero(member.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_to_emission(
    data: np.ndarray, threshold: float = 3.0, margin: float = 0.25, min_side: int = 16
) -> np.ndarray:
    """Crop to a square around the significant emission, with ``margin`` × its size around it.

    The box is found on the sum of the channels (:func:`emission_box`). The square is
    clipped to the image; an image with no significant emission is returned whole.
    """
    out = np.asarray(data, dtype=np.float32)
    planes = out.reshape(-1, *out.shape[-2:])
    box = emission_box(planes[0] if len(planes) == 1 else planes.sum(axis=0), threshold)
    if box is None:
        return _as_float32(out)
    y0, y1, x0, x1 = box
    side = int(np.ceil(max(max(y1 - y0, x1 - x0) * (1 + 2 * margin), min_side)))
    # Each axis's side has the parity of its box, so the crop sits exactly on the box's
    # centre: a rotated or mirrored image gives the rotated or mirrored crop.
    top, bottom = _centred_span(y0 + y1, side, out.shape[-2])
    left, right = _centred_span(x0 + x1, side, out.shape[-1])
    return _as_float32(out[..., top:bottom, left:right])


def _centred_span(twice_centre: int, side: int, length: int) -> tuple[int, int]:
    side += (twice_centre - side) % 2
    start = (twice_centre - side) // 2
    start = min(max(start, 0), max(length - side, 0))
    return start, min(start + side, length)


def noise_stretch(data: np.ndarray, knee: float = 3.0, per_channel: bool = False) -> np.ndarray:
    """Background-subtracted asinh stretch in units of the noise: ``asinh((x - bg) / (knee σ))``.

    Emission up to about ``knee`` times the noise stays linear and brighter emission is
    compressed logarithmically, so a bright core does not drown faint extended structure
    and the noise looks alike in every object whatever its peak. Values below the
    background are clipped at ``-knee`` σ. A constant image becomes zeros.
    """
    if knee <= 0:
        raise ValueError(f"knee must be positive, got {knee}")
    out = _as_float32(data)

    def one(values: np.ndarray) -> np.ndarray:
        background, noise = background_and_noise(values.reshape(-1, values.shape[-1]))
        if noise == 0.0:
            return np.zeros_like(values)
        scaled = np.maximum((values - background) / (knee * noise), -1.0)
        return np.arcsinh(scaled).astype(np.float32)

    if per_channel and out.ndim == 3:
        return np.stack([one(plane) for plane in out])
    return one(out)
