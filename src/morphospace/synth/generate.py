"""Observe the synthetic sky models: sampling, beam, correlated noise, blank borders, WCS, files.

Every object is drawn from its own generator seeded by ``(seed, index)``, so a data set is
reproducible by seed and objects can be written in parallel.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from scipy.signal import fftconvolve

from morphospace.io.reader import default_workers, worker_pool
from morphospace.synth.cubes import CUBE_MODELS
from morphospace.synth.shapes import MODELS

__all__ = [
    "C_KMS",
    "FWHM_TO_SIGMA",
    "HARD_BLANK_FRACTION",
    "HARD_WEIGHTS",
    "LABEL_COLUMNS",
    "REST_FREQUENCIES",
    "SAME_MORPHOLOGY",
    "Observation",
    "class_names",
    "render",
    "synthesize",
]

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
C_KMS = 299_792.458
REST_FREQUENCIES = {"disk": 230.538e9, "cloud": 93.1737637e9}  # CO 2-1, N2H+ 1-0

#: Columns of ``labels.csv``, in order. Parameters that do not apply to a class are blank.
LABEL_COLUMNS = [
    "id", "path", "class", "morphology", "family", "kind", "radius", "inclination", "pa",
    "ring_radius", "ring_radius_rel", "n_rings", "ring_width", "n_arms", "pitch", "separation",
    "flux_ratio", "component_radius", "primary_inclination", "secondary_inclination", "length",
    "width", "curvature", "n_filaments", "hub_radius", "axis_ratio", "core_radius", "power",
    "thickness", "opening", "spectral_slope", "lognormal_sigma", "gamma", "flux", "peak",
    "noise", "peak_snr", "bmaj", "bmin", "bpa", "pixel_scale", "size", "nan_border",
    "nan_fraction", "n_channels", "channel_width", "v_sys", "v_kep", "v_infall", "line_width",
    "bunit", "fill_fraction", "zero_clipped", "core_contrast",
]  # fmt: skip

#: Classes that differ physically but not in the image: a smooth disk and a dense core are
#: both a smooth, centrally peaked ellipse once framed (the supervised upper bound confuses
#: them too), and so are the moment-0 maps of the cube classes. ``morphology`` merges them.
SAME_MORPHOLOGY = {
    "smooth_disk": "smooth",
    "core": "smooth",
    "cube_rotating_disk": "smooth",
    "cube_static_core": "smooth",
    "cube_infall_core": "smooth",
}

#: The hard family: class frequencies (imbalanced), and the share of blank cutouts.
HARD_WEIGHTS = {
    "smooth_disk": 6, "ringed_disk": 3, "spiral_disk": 1, "binary": 2, "filament": 6,
    "hub_filament": 2, "core": 8, "shell": 2, "clumpy": 4, "point_source": 8,
}  # fmt: skip
HARD_BLANK_FRACTION = 0.03


def class_names(cubes: bool = False) -> list[str]:
    """The classes ``synthesize`` draws from, in the order it cycles through them."""
    return list(MODELS) + (list(CUBE_MODELS) if cubes else [])


@dataclass(frozen=True)
class Observation:
    """How an object is observed: grid, beam (arcsec, deg), units and position on the sky."""

    size: int
    pixel_scale: float  # arcsec / px
    radius: float  # arcsec
    bmaj: float
    bmin: float
    bpa: float
    bunit: str
    lon: float
    lat: float
    galactic: bool


def synthesize(
    outdir: str | Path,
    n: int,
    *,
    cubes: bool = False,
    seed: int = 0,
    size: int | tuple[int, int] | None = None,
    workers: int | None = None,
    hard: bool = False,
) -> Path:
    """Write ``n`` synthetic objects to ``outdir/images/``, labels to ``outdir/labels.csv``.

    Classes cycle evenly through :func:`class_names`. Image sides vary from 32 to 256 px
    (cubes: 32 to 96 px), with disk-like (ALMA-like, arcsec-scale) and cloud-like
    (Herschel-like, arcmin-scale) pixel scales, beams of 2-5 px, peak signal-to-noise from
    8 to 300 and blank (NaN) borders on about one object in five.

    The ``hard`` family looks like real survey cutouts instead: 2-D classes drawn with
    imbalanced frequencies (:data:`HARD_WEIGHTS`, from 1 to 8); the object filling only
    8-25 % of a 64-256 px cutout, off centre; the background clipped to exactly zero in a
    third of the cutouts; a bright unresolved core 30-300 times the extended emission's
    peak in a third; and 3 % of the cutouts blank (all zeros, class ``blank``).

    Parameters
    ----------
    outdir : path
        Output folder; created if missing.
    n : int
        Number of objects.
    cubes : bool
        Also draw spectral-cube classes (rotating disks, static and infalling cores).
    seed : int
        Seed; the same seed gives byte-identical data.
    size : int or (int, int), optional
        Give every object this side in pixels, or draw it log-uniformly from a
        (smallest, largest) range, instead of the default 32-256 px (cubes 32-96 px).
    workers : int, optional
        Worker processes (default: all cores for large sets).

    Returns
    -------
    Path
        The ``labels.csv`` file.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    outdir = Path(outdir)
    (outdir / "images").mkdir(parents=True, exist_ok=True)
    names = class_names(cubes)
    if size is not None:
        low, high = (size, size) if isinstance(size, int) else size
        if low < 16 or high < low:
            raise ValueError(f"image sides must be at least 16 px and ordered, got {size}")
    if hard and cubes:
        raise ValueError("the hard family has 2-D images only: drop cubes")
    job = partial(_write_object, outdir=outdir, names=names, seed=seed, size=size, hard=hard)
    workers = default_workers() if workers is None else workers
    if workers > 1 and n >= 100:
        with worker_pool(workers) as pool:
            rows = list(pool.map(job, range(n), chunksize=max(1, n // (workers * 8))))
    else:
        rows = [job(i) for i in range(n)]
    labels = outdir / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return labels


def render(
    index: int,
    names: list[str],
    seed: int = 0,
    size: int | tuple[int, int] | None = None,
    hard: bool = False,
) -> tuple[np.ndarray, fits.Header, dict]:
    """Render object ``index`` (side ``size`` px, or random): data, header and label row."""
    rng = np.random.default_rng([seed, index])
    if hard:
        weights = np.array(list(HARD_WEIGHTS.values()), dtype=float)
        name = str(rng.choice(list(HARD_WEIGHTS), p=weights / weights.sum()))
    else:
        name = names[index % len(names)]
    is_cube = name in CUBE_MODELS
    family = (CUBE_MODELS if is_cube else MODELS)[name][0]
    if family == "point":
        family = str(rng.choice(["disk", "cloud"]))
    fill = rng.uniform(0.08, 0.25) if hard else None
    min_side = 64 if hard else 32
    obs = _sample_observation(rng, family, 96 if is_cube else 256, size, fill, min_side)
    x, y = _offset_grid(rng, obs, shift=0.15 if hard else 0.05)
    velocities = v_sys = None
    if is_cube:
        velocities, v_sys = _velocity_axis(rng)
        model, params = CUBE_MODELS[name][1](x, y, velocities - v_sys, rng, obs.radius)
    else:
        model, params = MODELS[name][1](x, y, rng, obs.radius)
    sky, noise, peak = _observe(rng, model, obs)
    hard_row: dict[str, Any] = {}
    if hard:
        core, hard_row["core_contrast"] = _bright_core(rng, obs, x, y)
        sky = sky + core * peak
    data = sky + noise
    if hard:
        hard_row["fill_fraction"] = 2 * obs.radius / (obs.size * obs.pixel_scale)
        hard_row["zero_clipped"] = bool(rng.random() < 1 / 3)
        if hard_row["zero_clipped"]:
            data = np.maximum(data, 0.0)
        if rng.random() < HARD_BLANK_FRACTION:
            name, data = "blank", np.zeros_like(data)
    border = "none" if hard else _blank_border(rng, data)
    beam_area_px = np.pi / (4 * np.log(2)) * obs.bmaj * obs.bmin / obs.pixel_scale**2
    flux = float(sky.sum() / beam_area_px) if obs.bunit == "Jy/beam" else _mjysr_to_jy(sky, obs)
    object_id = f"synth_{index:05d}"
    row = {
        "id": object_id,
        "class": name,
        "morphology": SAME_MORPHOLOGY.get(name, name),
        "family": family,
        "kind": "cube" if is_cube else "image",
        "radius": 0.0 if name == "point_source" else obs.radius,
        **params,
        "flux": flux * (np.diff(velocities).mean() if is_cube else 1.0),
        "peak": peak,
        "noise": float(noise.std()),
        "peak_snr": peak / max(float(noise.std()), 1e-30),
        "bmaj": obs.bmaj,
        "bmin": obs.bmin,
        "bpa": obs.bpa,
        "pixel_scale": obs.pixel_scale,
        "size": obs.size,
        "nan_border": border,
        "nan_fraction": float(np.isnan(data).mean()),
        "bunit": obs.bunit,
        **hard_row,
    }
    if "ring_radius" in params:  # in units of the disk's radius: what the image shows
        row["ring_radius_rel"] = params["ring_radius"] / obs.radius
    if is_cube:
        row |= {
            "n_channels": len(velocities),
            "channel_width": float(abs(velocities[1] - velocities[0])),
            "v_sys": v_sys,
        }
    header = _header(obs, object_id, velocities, family)
    if is_cube and family == "disk" and rng.random() < 0.5:
        data = data[None]  # ALMA/CASA layout: a degenerate Stokes axis
        header = _add_stokes_axis(header)
    return data.astype(np.float32), header, row


def _write_object(
    index: int,
    outdir: Path,
    names: list[str],
    seed: int,
    size: int | tuple[int, int] | None,
    hard: bool = False,
) -> dict[str, Any]:
    data, header, row = render(index, names, seed, size, hard)
    relative = Path("images") / f"{row['id']}.fits"
    fits.PrimaryHDU(data, header).writeto(outdir / relative, overwrite=True)
    return {**row, "path": relative.as_posix()}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _sample_observation(
    rng: np.random.Generator,
    family: str,
    max_size: int,
    size: int | tuple[int, int] | None = None,
    fill: float | None = None,
    min_size: int = 32,
) -> Observation:
    drawn = _log_uniform(rng, min_size, max_size)  # drawn whatever the setting: same stream
    if size is None:
        size = round(drawn)
    elif not isinstance(size, int):  # a range: reuse the draw's quantile
        quantile = np.log(drawn / min_size) / np.log(max_size / min_size)
        size = round(size[0] * (size[1] / size[0]) ** quantile)
    if family == "disk":  # ALMA continuum: milliarcsec pixels, Jy/beam
        pixel_scale, bunit = _log_uniform(rng, 0.005, 0.03), "Jy/beam"
        lon, lat, galactic = rng.uniform(0, 360), rng.uniform(-70, 30), False
    else:  # Herschel/Spitzer-like: arcsec pixels, MJy/sr, Galactic plane
        pixel_scale, bunit = _log_uniform(rng, 1.5, 6.0), "MJy/sr"
        lon, lat, galactic = rng.uniform(-60, 60) % 360, rng.uniform(-1, 1), True
    radius_px = rng.uniform(0.35, 0.75) * size / 2
    if fill is not None:  # the object spans only this fraction of the cutout
        radius_px = max(fill * size / 2, 3.0)
    beam_px = rng.uniform(2.0, max(2.0, min(5.0, radius_px / 3)))
    bmaj = beam_px * pixel_scale
    return Observation(
        size=size,
        pixel_scale=pixel_scale,
        radius=radius_px * pixel_scale,
        bmaj=bmaj,
        bmin=bmaj * rng.uniform(0.6, 1.0),
        bpa=float(rng.uniform(-90, 90)),
        bunit=bunit,
        lon=float(lon),
        lat=float(lat),
        galactic=galactic,
    )


def _offset_grid(
    rng: np.random.Generator, obs: Observation, shift: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    centre = (obs.size - 1) / 2 + rng.uniform(-shift, shift, 2) * obs.size
    rows, cols = np.mgrid[: obs.size, : obs.size].astype(np.float64)
    # RA/longitude increases to the left (CDELT1 < 0): east is -x.
    return (centre[1] - cols) * obs.pixel_scale, (rows - centre[0]) * obs.pixel_scale


def _velocity_axis(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    n_channels = int(rng.integers(20, 41))
    width = rng.uniform(0.15, 0.35)
    v_sys = float(rng.uniform(-20, 20))
    return v_sys + (np.arange(n_channels) - (n_channels - 1) / 2) * width, v_sys


def _bright_core(
    rng: np.random.Generator, obs: Observation, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, float]:
    """In a third of the objects, an unresolved core (the beam) 30-300 times brighter than
    the extended emission's peak; zeros and contrast 0 in the others."""
    if rng.random() >= 1 / 3:
        return np.zeros_like(x), 0.0
    contrast = _log_uniform(rng, 30.0, 300.0)
    point = np.zeros_like(x)
    point[np.unravel_index(np.argmin(np.hypot(x, y)), x.shape)] = 1.0
    kernel = _beam_kernel(obs)
    return fftconvolve(point, kernel / kernel.max(), mode="same") * contrast, contrast


def _beam_kernel(obs: Observation) -> np.ndarray:
    sig_maj = obs.bmaj * FWHM_TO_SIGMA / obs.pixel_scale
    sig_min = obs.bmin * FWHM_TO_SIGMA / obs.pixel_scale
    half = int(np.ceil(4 * sig_maj))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    angle = np.radians(obs.bpa)
    along = xx * np.sin(angle) + yy * np.cos(angle)
    across = xx * np.cos(angle) - yy * np.sin(angle)
    kernel = np.exp(-0.5 * ((along / sig_maj) ** 2 + (across / sig_min) ** 2))
    return kernel / kernel.sum()


def _observe(
    rng: np.random.Generator, model: np.ndarray, obs: Observation
) -> tuple[np.ndarray, np.ndarray, float]:
    """Convolve with the beam, scale to a physical peak, and draw beam-correlated noise."""
    kernel = _beam_kernel(obs)
    if model.ndim == 3:
        kernel = kernel[None]
    axes = tuple(range(model.ndim))[-2:]
    sky = fftconvolve(model, kernel, mode="same", axes=axes)
    peak = (
        _log_uniform(rng, 1e-3, 5e-2) if obs.bunit == "Jy/beam" else _log_uniform(rng, 10.0, 500.0)
    )
    sky *= peak / max(float(sky.max()), 1e-30)
    white = rng.standard_normal(model.shape)
    correlated = fftconvolve(white, kernel, mode="same", axes=axes)
    correlated /= max(float(correlated.std()), 1e-30)
    sigma = peak / _log_uniform(rng, 8.0, 300.0)
    return sky, correlated * sigma, peak


def _blank_border(rng: np.random.Generator, data: np.ndarray) -> str:
    """Blank the edge of about one object in five: a primary-beam circle or mosaic strips."""
    draw = rng.random()
    n = data.shape[-1]
    if draw < 0.1:
        rows, cols = np.ogrid[:n, :n]
        outside = np.hypot(rows - (n - 1) / 2, cols - (n - 1) / 2) > rng.uniform(0.42, 0.5) * n
        data[..., outside] = np.nan
        return "circle"
    if draw < 0.2:
        width = max(1, int(rng.uniform(0.03, 0.15) * n))
        side = int(rng.integers(4))
        edge = [
            np.s_[..., :width, :],
            np.s_[..., -width:, :],
            np.s_[..., :width],
            np.s_[..., -width:],
        ]
        data[edge[side]] = np.nan
        return "strip"
    return "none"


def _mjysr_to_jy(sky: np.ndarray, obs: Observation) -> float:
    pixel_sr = (obs.pixel_scale / 206_264.806) ** 2
    return float(sky.sum() * 1e6 * pixel_sr)


def _header(
    obs: Observation, object_id: str, velocities: np.ndarray | None, family: str
) -> fits.Header:
    lon_type, lat_type = ("GLON-TAN", "GLAT-TAN") if obs.galactic else ("RA---SIN", "DEC--SIN")
    cards: list[tuple[str, Any]] = [
        ("CTYPE1", lon_type),
        ("CRVAL1", obs.lon),
        ("CDELT1", -obs.pixel_scale / 3600),
        ("CRPIX1", (obs.size + 1) / 2),
        ("CUNIT1", "deg"),
        ("CTYPE2", lat_type),
        ("CRVAL2", obs.lat),
        ("CDELT2", obs.pixel_scale / 3600),
        ("CRPIX2", (obs.size + 1) / 2),
        ("CUNIT2", "deg"),
    ]
    if not obs.galactic:
        cards += [("RADESYS", "ICRS"), ("EQUINOX", 2000.0)]
    if velocities is not None:
        rest = REST_FREQUENCIES[family]
        step = velocities[1] - velocities[0]
        if family == "disk":  # ALMA cubes come in frequency (radio convention)
            cards += [
                ("CTYPE3", "FREQ"),
                ("CRVAL3", rest * (1 - velocities[0] / C_KMS)),
                ("CDELT3", -rest * step / C_KMS),
                ("CRPIX3", 1.0),
                ("CUNIT3", "Hz"),
            ]
        else:
            cards += [
                ("CTYPE3", "VRAD"),
                ("CRVAL3", velocities[0] * 1e3),
                ("CDELT3", step * 1e3),
                ("CRPIX3", 1.0),
                ("CUNIT3", "m/s"),
            ]
        cards += [("SPECSYS", "LSRK"), ("RESTFRQ", rest)]
    cards += [
        ("BMAJ", obs.bmaj / 3600),
        ("BMIN", obs.bmin / 3600),
        ("BPA", obs.bpa),
        ("BUNIT", obs.bunit),
        ("OBJECT", object_id),
        ("TELESCOP", "SYNTHETIC"),
        ("ORIGIN", "morphospace synth"),
    ]
    return fits.Header(cards)


def _add_stokes_axis(header: fits.Header) -> fits.Header:
    header = header.copy()
    for key, value in (("CTYPE4", "STOKES"), ("CRVAL4", 1.0), ("CDELT4", 1.0), ("CRPIX4", 1.0)):
        header[key] = value
    return header
