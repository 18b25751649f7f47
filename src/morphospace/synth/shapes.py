"""Noise-free sky brightness models with known morphology, on a grid of sky offsets in arcsec.

Each model takes the offset grids ``x`` and ``y`` (arcsec from the object centre), a random
generator and the object radius, and returns ``(brightness, params)``: the image (arbitrary
units, peak near 1) and the continuous parameters it used, for ``labels.csv``. Angles are
in degrees; position angles are measured from +y towards -x (north through east).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "MODELS",
    "Model",
    "Params",
    "binary",
    "clumpy",
    "core",
    "disk_frame",
    "filament",
    "hub_filament",
    "point_source",
    "ringed_disk",
    "shell",
    "smooth_disk",
    "spiral_disk",
]

Params = dict[str, Any]
Model = Callable[[np.ndarray, np.ndarray, np.random.Generator, float], tuple[np.ndarray, Params]]


def disk_frame(
    x: np.ndarray, y: np.ndarray, pa: float, inclination: float
) -> tuple[np.ndarray, np.ndarray]:
    """Deprojected radius and azimuth (radians) in the plane of an inclined disk."""
    pa_rad, inc_rad = np.radians(pa), np.radians(inclination)
    along = -x * np.sin(pa_rad) + y * np.cos(pa_rad)  # along the major axis
    across = (x * np.cos(pa_rad) + y * np.sin(pa_rad)) / np.cos(inc_rad)
    return np.hypot(along, across), np.arctan2(across, along)


def _taper_profile(r: np.ndarray, radius: float, gamma: float) -> np.ndarray:
    """Tapered power law (Lynden-Bell & Pringle 1974), characteristic radius ``radius/2``."""
    rc = 0.5 * radius
    s = np.maximum(r, 0.02 * rc) / rc
    return s**-gamma * np.exp(-(s ** (2.0 - gamma)))


def _gaussian(d: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * (d / width) ** 2)


def _orientation(rng: np.random.Generator) -> Params:
    # Inclination uniform in cos(i): random orientations in space, stopping short of edge-on.
    return {
        "inclination": float(np.degrees(np.arccos(rng.uniform(np.cos(np.radians(75)), 1.0)))),
        "pa": float(rng.uniform(0.0, 180.0)),
    }


def smooth_disk(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A smooth protoplanetary disk: tapered power law, inclined."""
    p = _orientation(rng) | {"gamma": float(rng.uniform(0.3, 1.0))}
    r, _ = disk_frame(x, y, p["pa"], p["inclination"])
    return _taper_profile(r, radius, p["gamma"]), p


def ringed_disk(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A disk with bright rings and dark gaps (HL Tau-like).

    ``ring_radius`` is the radius of the ring that is brightest as rendered: a fainter
    ring nearer the centre can outshine the strongest one, and a later ring's gap can
    carve into an earlier one, so the label is read off the model's radial profile.
    """
    p = _orientation(rng)
    n_rings = int(rng.integers(1, 4))
    ring_radius = float(rng.uniform(0.35, 0.8) * radius)
    others = rng.uniform(0.2, 1.0, size=n_rings - 1) * radius
    r, _ = disk_frame(x, y, p["pa"], p["inclination"])
    width = rng.uniform(0.04, 0.08) * radius
    rings = [(ring_radius, 1.0), *((float(o), float(rng.uniform(0.3, 0.7))) for o in others)]

    def profile(r: np.ndarray) -> np.ndarray:
        image = 0.35 * _taper_profile(r, radius, 0.5)
        for ring_r, amp in rings:
            image = image * (1.0 - 0.9 * _gaussian(r - (ring_r - 2.5 * width), width))  # gap
            image = image + amp * _gaussian(r - ring_r, width)
        return image

    radii = np.array([ring_r for ring_r, _ in rings])
    brightest = float(radii[np.argmax(profile(radii))])
    p |= {"ring_radius": brightest, "n_rings": n_rings, "ring_width": float(width)}
    return profile(r), p


def spiral_disk(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A disk with logarithmic spiral arms (m = 2 or 3)."""
    p = _orientation(rng) | {
        "n_arms": int(rng.integers(2, 4)),
        "pitch": float(rng.uniform(10.0, 30.0)),
    }
    r, theta = disk_frame(x, y, p["pa"], p["inclination"])
    phase = p["n_arms"] * theta - p["n_arms"] * np.log(
        np.maximum(r, 1e-3 * radius) / radius
    ) / np.tan(np.radians(p["pitch"]))
    arms = (0.5 * (1.0 + np.cos(phase))) ** 3
    return _taper_profile(r, radius, 0.3) * (0.15 + arms), p


def binary(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """Two compact disks; ``separation`` in arcsec, ``flux_ratio`` secondary/primary.

    The components are inclined independently (``primary_inclination``,
    ``secondary_inclination``); the pair has no ``inclination`` of its own.
    """
    p = _orientation(rng)
    size = rng.uniform(0.25, 0.4) * radius
    p |= {
        "separation": float(rng.uniform(2.2, 3.5) * size),
        "flux_ratio": float(rng.uniform(0.3, 1.0)),
        "component_radius": float(size),
    }
    angle = np.radians(p["pa"] + rng.uniform(30.0, 150.0))
    dx, dy = 0.5 * p["separation"] * -np.sin(angle), 0.5 * p["separation"] * np.cos(angle)
    r1, _ = disk_frame(x - dx, y - dy, p["pa"], p["inclination"])
    secondary_pa, secondary_inclination = rng.uniform(0, 180), rng.uniform(0, 70)
    r2, _ = disk_frame(x + dx, y + dy, secondary_pa, secondary_inclination)
    # A pair of disks has no single inclination: each component's is its own column.
    p["primary_inclination"] = p.pop("inclination")
    p["secondary_inclination"] = float(secondary_inclination)
    return _taper_profile(r1, size, 0.5) + p["flux_ratio"] * _taper_profile(r2, size, 0.5), p


def _ridge(across: np.ndarray, along: np.ndarray, width: float, length: float) -> np.ndarray:
    """A filament crest: Plummer-like cross-section (p = 2), softly truncated at its ends."""
    return (1.0 + (across / width) ** 2) ** -1.0 * np.exp(-((np.abs(along) / (0.5 * length)) ** 6))


def filament(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A curved filament of half-length ``radius`` with beads of denser gas along it."""
    p = {
        "pa": float(rng.uniform(0.0, 180.0)),
        "length": float(2.0 * radius),
        "width": float(rng.uniform(0.04, 0.1) * radius),
        "curvature": float(rng.uniform(-0.4, 0.4)),
    }
    pa = np.radians(p["pa"])
    along = -x * np.sin(pa) + y * np.cos(pa)
    across = x * np.cos(pa) + y * np.sin(pa) - p["curvature"] * along**2 / radius
    beads = 1.0 + 0.5 * np.sin(along / radius * rng.uniform(4, 9) + rng.uniform(0, 2 * np.pi)) ** 2
    return _ridge(across, along, p["width"], p["length"]) * beads, p


def hub_filament(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A dense hub with 3-6 filaments radiating from it."""
    n = int(rng.integers(3, 7))
    p = {"n_filaments": n, "hub_radius": float(rng.uniform(0.1, 0.2) * radius)}
    image = 1.5 * _gaussian(np.hypot(x, y), p["hub_radius"])
    width = rng.uniform(0.03, 0.06) * radius
    angles = np.sort(rng.uniform(0, 2 * np.pi, n)) + rng.uniform(-0.2, 0.2, n)
    for angle in angles:
        along = x * np.cos(angle) + y * np.sin(angle)
        across = -x * np.sin(angle) + y * np.cos(angle)
        length = rng.uniform(0.6, 1.0) * radius
        image += 0.6 * _ridge(across, along - 0.5 * length, width, length)
    return image, p


def core(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A dense core: elliptical Plummer-like profile."""
    p = {
        "pa": float(rng.uniform(0.0, 180.0)),
        "axis_ratio": float(rng.uniform(0.5, 1.0)),
        "core_radius": float(rng.uniform(0.1, 0.25) * radius),
        "power": float(rng.uniform(1.5, 2.5)),
    }
    r, _ = disk_frame(x, y, p["pa"], np.degrees(np.arccos(p["axis_ratio"])))
    return (1.0 + (r / p["core_radius"]) ** 2) ** (-p["power"] / 2.0), p


def shell(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """A projected spherical shell (bubble), sometimes broken open on one side."""
    thickness = float(rng.uniform(0.1, 0.3))
    opening = float(rng.choice([0.0, rng.uniform(0.5, 1.0)]))
    p = {"thickness": thickness, "opening": opening, "pa": float(rng.uniform(0.0, 360.0))}
    r = np.hypot(x, y)
    inner = radius * (1.0 - thickness)
    image = np.sqrt(np.clip(radius**2 - r**2, 0, None)) - np.sqrt(np.clip(inner**2 - r**2, 0, None))
    if opening:
        azimuth = np.arctan2(-x, y) - np.radians(p["pa"])
        image *= 1.0 - opening * np.exp(-0.5 * (np.angle(np.exp(1j * azimuth)) / 0.6) ** 2)
    return image / max(image.max(), 1e-12), p


def clumpy(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """Lognormal turbulent texture (power-law spectrum) under a broad envelope."""
    slope = float(rng.uniform(2.5, 3.5))
    ny, nx = x.shape
    ky, kx = np.fft.fftfreq(ny)[:, None], np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = np.inf
    noise = rng.standard_normal((ny, nx // 2 + 1)) + 1j * rng.standard_normal((ny, nx // 2 + 1))
    field = np.fft.irfft2(noise * k ** (-slope / 2.0), s=(ny, nx))
    field = (field - field.mean()) / max(field.std(), 1e-12)
    spread = float(rng.uniform(0.6, 1.0))
    envelope = _gaussian(np.hypot(x, y), 0.6 * radius)
    return np.exp(spread * field) * envelope, {"spectral_slope": slope, "lognormal_sigma": spread}


def point_source(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, Params]:
    """An unresolved source: a delta function that the beam turns into the PSF."""
    r = np.hypot(x, y)
    image = np.zeros_like(x)
    image[np.unravel_index(np.argmin(r), r.shape)] = 1.0
    return image, {}


#: Morphological classes of 2-D objects, with the family each belongs to.
MODELS: dict[str, tuple[str, Model]] = {
    "smooth_disk": ("disk", smooth_disk),
    "ringed_disk": ("disk", ringed_disk),
    "spiral_disk": ("disk", spiral_disk),
    "binary": ("disk", binary),
    "filament": ("cloud", filament),
    "hub_filament": ("cloud", hub_filament),
    "core": ("cloud", core),
    "shell": ("cloud", shell),
    "clumpy": ("cloud", clumpy),
    "point_source": ("point", point_source),
}
