"""Turn a spectral cube (C, H, W) into a few image channels: binned channels or moment maps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = ["bin_channels", "moment_maps"]


def bin_channels(cube: np.ndarray, n_channels: int) -> np.ndarray:
    """Average the spectral axis into ``n_channels`` contiguous bins of near-equal width.

    Blank (NaN) pixels are ignored inside a bin; a pixel blank in the whole bin stays NaN.
    A cube with fewer channels than ``n_channels`` is interpolated up to that count, so the
    output always has exactly ``n_channels`` channels.
    """
    if cube.ndim != 3:
        raise ValueError(f"expected a (C, H, W) cube, got shape {cube.shape}")
    if n_channels < 1:
        raise ValueError(f"n_channels must be at least 1, got {n_channels}")
    cube = np.asarray(cube, dtype=np.float32)
    n_in = cube.shape[0]
    if n_in < n_channels:
        # Nearest-channel upsampling keeps blank pixels blank and values unmixed.
        index = np.floor(np.arange(n_channels) * n_in / n_channels).astype(int)
        return cube[index].copy()
    edges = np.linspace(0, n_in, n_channels + 1).round().astype(int)
    planes = []
    with np.errstate(invalid="ignore"):
        for start, stop in itertools.pairwise(edges):
            block = cube[start:stop]
            finite = np.isfinite(block)
            total = np.where(finite, block, 0.0).sum(axis=0)
            count = finite.sum(axis=0)
            planes.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    return np.stack(planes).astype(np.float32)


def moment_maps(
    cube: np.ndarray,
    velocities: np.ndarray,
    orders: Sequence[int] = (0, 1, 2),
    velocity_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Moment maps over a velocity range, stacked as channels in the order given.

    - moment 0: integrated intensity, ``sum(I dv)``;
    - moment 1: intensity-weighted mean velocity;
    - moment 2: intensity-weighted velocity dispersion.

    Only positive intensities weight moments 1 and 2, so noise does not drive them; where
    a pixel has no positive emission they are NaN (blank) and are filled later in the chain.

    Parameters
    ----------
    cube : ndarray, shape (C, H, W)
    velocities : ndarray, shape (C,)
        Channel velocities in km/s.
    orders : sequence of {0, 1, 2}
    velocity_range : (vmin, vmax), optional
        Velocities (km/s) to integrate over; by default all channels.
    """
    cube = np.asarray(cube, dtype=np.float32)
    velocities = np.asarray(velocities, dtype=np.float64)
    if cube.ndim != 3 or velocities.shape != (cube.shape[0],):
        raise ValueError(f"cube shape {cube.shape} does not match {velocities.size} velocities")
    bad = [order for order in orders if order not in (0, 1, 2)]
    if bad or not orders:
        raise ValueError(f"moment orders must be 0, 1 or 2, got {list(orders)}")
    selected = np.ones(velocities.shape, dtype=bool)
    if velocity_range is not None:
        vmin, vmax = sorted(velocity_range)
        selected = (velocities >= vmin) & (velocities <= vmax)
        if not selected.any():
            raise ValueError(
                f"no channel in velocity range {vmin:g}..{vmax:g} km/s "
                f"(cube covers {velocities.min():g}..{velocities.max():g} km/s)"
            )
    sub = np.where(np.isfinite(cube[selected]), cube[selected], 0.0)
    v = velocities[selected][:, None, None]
    dv = abs(float(np.median(np.diff(velocities)))) if velocities.size > 1 else 1.0
    positive = np.clip(sub, 0.0, None)
    weight = positive.sum(axis=0)
    has_emission = weight > 0
    safe_weight = np.where(has_emission, weight, 1.0)
    mom1 = (positive * v).sum(axis=0) / safe_weight
    maps = {0: sub.sum(axis=0) * dv}
    maps[1] = np.where(has_emission, mom1, np.nan)
    spread = (positive * (v - mom1) ** 2).sum(axis=0) / safe_weight
    maps[2] = np.where(has_emission, np.sqrt(spread), np.nan)
    blank = ~np.isfinite(cube[selected]).any(axis=0)
    stacked = np.stack([maps[order] for order in orders]).astype(np.float32)
    stacked[:, blank] = np.nan
    return stacked
