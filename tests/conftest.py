"""Shared fixtures: every test makes its own small FITS data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from morphospace.config import validate_settings
from morphospace.synth import synthesize
from morphospace.train import Trainer

PIXEL_DEG = 0.1 / 3600  # 0.1 arcsec pixels
# WebGL without a GPU: Chromium's software renderer
BROWSER_ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@contextmanager
def chromium_page(width: int = 1300, height: int = 850) -> Iterator[tuple[object, list[str]]]:
    """A page of headless Chromium (Playwright driving the system browser) and the list of
    JavaScript errors it logs. Skipped only outside CI, where the browser must be there."""
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if browser_path is None or sync_playwright is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: install Debian's chromium and playwright")
        pytest.skip("no chromium or playwright here")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
        try:
            viewport = {"width": width, "height": height}
            page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page, errors
        finally:
            browser.close()


def celestial_header(
    shape: tuple[int, ...], ra: float = 83.8, dec: float = -5.4, pixel_deg: float = PIXEL_DEG
) -> fits.Header:
    """A SIN-projected RA/Dec header for data of the given numpy shape, centred on (ra, dec)."""
    ny, nx = shape[-2:]
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "RA---SIN", "DEC--SIN"
    header["CRVAL1"], header["CRVAL2"] = ra, dec
    header["CDELT1"], header["CDELT2"] = -pixel_deg, pixel_deg
    header["CRPIX1"], header["CRPIX2"] = (nx + 1) / 2, (ny + 1) / 2
    header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
    header["RADESYS"] = "ICRS"
    return header


def spectral_cards(header: fits.Header, n: int, kind: str = "FREQ") -> fits.Header:
    """Add a third (spectral) axis: FREQ at 230.538 GHz with 0.5 km/s channels, or VRAD."""
    rest = 230.538e9
    if kind == "FREQ":
        header["CTYPE3"], header["CUNIT3"] = "FREQ", "Hz"
        header["CRVAL3"], header["CDELT3"] = rest, -rest * 0.5 / 299792.458
    else:
        header["CTYPE3"], header["CUNIT3"] = "VRAD", "m/s"
        header["CRVAL3"], header["CDELT3"] = 0.0, 500.0
    header["CRPIX3"] = (n + 1) / 2
    header["RESTFRQ"] = rest
    return header


def gaussian_blob(n: int = 48, sigma: float = 4.0, peak: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    c = (n - 1) / 2
    return (peak * np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * sigma**2))).astype(np.float32)


@pytest.fixture
def write_fits(tmp_path: Path):
    """Write ``data`` with ``header`` (plus extra HDUs) to ``tmp_path/name`` and return the path."""

    def write(name: str, data, header: fits.Header | None = None, extra=()) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        hdus = [fits.PrimaryHDU(data, header), *extra]
        fits.HDUList(hdus).writeto(path, overwrite=True)
        return path

    return write


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory) -> Path:
    """A small synthetic set with every class, cubes included (labels.csv inside)."""
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, 26, cubes=True, seed=7, workers=1)
    return root


def tiny(sources, **train) -> object:
    """Settings small enough to train in seconds on one CPU core."""
    return validate_settings(
        {
            "data": {"sources": [str(s) for s in sources]},
            "model": {"backbone": "amm", "projection_size": 32, "projection_hidden_size": 64},
            "augment": {"view_size": 32},
            "train": {"epochs": 3, "batch_size": 16, "warmup_epochs": 0.5, "log_every": 1, **train},
        }
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A run trained for two epochs on 30 synthetic images: (run folder, images folder)."""
    root = tmp_path_factory.mktemp("embed")
    synthesize(root / "data", 30, seed=11, workers=1)
    images = root / "data" / "images"
    Trainer(tiny([images], epochs=2), root / "run", progress=False).fit()
    return root / "run", images
