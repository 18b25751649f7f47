"""Noise-free spectral-line cube models: a brightness image times a line profile per pixel.

Each model takes the sky offset grids (arcsec), channel velocities (km/s), a random
generator and the object radius, and returns ``(cube, params)`` with cube shape
(n_channels, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from morphospace.synth.shapes import core, disk_frame, smooth_disk

__all__ = ["CUBE_MODELS", "CubeModel", "Params", "infall_core", "rotating_disk", "static_core"]

Params = dict[str, Any]
CubeModel = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.random.Generator, float], tuple[np.ndarray, Params]
]


def _line(velocities: np.ndarray, centre: np.ndarray | float, width: float) -> np.ndarray:
    """Gaussian line profiles, shape (n_channels, H, W) for a centre map of shape (H, W)."""
    v = velocities[:, None, None]
    return np.exp(-0.5 * ((v - centre) / width) ** 2)


def rotating_disk(
    x: np.ndarray, y: np.ndarray, velocities: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A Keplerian disk: the line-of-sight velocity changes sign across the major axis."""
    brightness, p = smooth_disk(x, y, rng, radius)
    p |= {"v_kep": float(rng.uniform(1.0, 3.0)), "line_width": float(rng.uniform(0.15, 0.4))}
    r, theta = disk_frame(x, y, p["pa"], p["inclination"])
    speed = p["v_kep"] * np.sqrt(radius / np.maximum(r, 0.05 * radius))
    v_los = speed * np.sin(np.radians(p["inclination"])) * np.cos(theta)
    return brightness * _line(velocities, v_los, p["line_width"]), p


def static_core(
    x: np.ndarray, y: np.ndarray, velocities: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A dense core at rest: the same line everywhere, no velocity gradient."""
    brightness, p = core(x, y, rng, radius)
    p |= {"line_width": float(rng.uniform(0.2, 0.6))}
    return brightness * _line(velocities, 0.0, p["line_width"]), p


def infall_core(
    x: np.ndarray, y: np.ndarray, velocities: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A collapsing core: a double-peaked line, blue peak brighter, split widest at the centre."""
    brightness, p = core(x, y, rng, radius)
    p |= {"v_infall": float(rng.uniform(0.3, 0.8)), "line_width": float(rng.uniform(0.15, 0.3))}
    split = p["v_infall"] * np.sqrt(p["core_radius"] / np.maximum(np.hypot(x, y), p["core_radius"]))
    profile = _line(velocities, -split, p["line_width"]) + 0.5 * _line(
        velocities, split, p["line_width"]
    )
    return brightness * profile, p


#: Spectral-cube classes, with their family.
CUBE_MODELS: dict[str, tuple[str, CubeModel]] = {
    "cube_rotating_disk": ("disk", rotating_disk),
    "cube_static_core": ("cloud", static_core),
    "cube_infall_core": ("cloud", infall_core),
}
