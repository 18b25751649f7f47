"""Each speed shortcut gives what the library call it stands in for gives, on varied inputs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from conftest import celestial_header, gaussian_blob
from morphospace.io import _fast as io_fast
from morphospace.io import read_fits
from morphospace.preprocess import _fast as preprocess_fast


@pytest.mark.parametrize("module", [io_fast, preprocess_fast])
def test_every_shortcut_names_its_library_call(module):
    assert module.LIBRARY, module
    for name, library in module.LIBRARY.items():
        assert callable(getattr(module, name)) and library is not getattr(module, name)
        assert module.__doc__ and f":func:`{name}`" in module.__doc__


def test_gaussian_smoothing_equals_scipys():
    rng = np.random.default_rng(0)
    for shape in ((16, 16), (17, 40), (64, 33), (5, 200)):
        plane = rng.normal(size=shape).astype(np.float32)
        plane[: shape[0] // 3] += 10.0  # an edge and a step
        for sigma in (0.5, 1.0, 1.7, 3.0):
            np.testing.assert_allclose(
                preprocess_fast.gaussian_smooth(plane, sigma),
                preprocess_fast.library_gaussian_smooth(plane, sigma),
                rtol=1e-5,
                atol=1e-5,
            )


def test_median_equals_numpys_with_ties_and_odd_and_even_counts():
    rng = np.random.default_rng(1)
    for size in (1, 2, 3, 10, 11, 1000, 1001):
        for dtype in (np.float32, np.float64):
            values = rng.normal(size=size).astype(dtype)
            values[: size // 2] = np.round(values[: size // 2], 1)
            assert preprocess_fast.median(values) == preprocess_fast.library_median(values)


def _celestial(**cards):
    header = celestial_header((40, 40), ra=210.0, dec=-45.0)
    header.update(cards)
    return WCS(header).wcs.sub([1, 2])


@pytest.mark.parametrize(
    "cards",
    [
        {},
        {"CDELT1": -2e-4, "CDELT2": 5e-4},  # non-square pixels
        {"PC1_1": 0.8, "PC1_2": -0.6, "PC2_1": 0.6, "PC2_2": 0.8},  # rotated
        {"CUNIT1": "arcsec", "CUNIT2": "arcsec", "CDELT1": -0.05, "CDELT2": 0.05},
        {"CTYPE1": "GLON-CAR", "CTYPE2": "GLAT-CAR", "CRVAL1": 30.0, "CRVAL2": 0.5},
    ],
)
def test_pixel_scale_equals_proj_plane_pixel_scales(cards):
    celestial = _celestial(**cards)
    fast, library = io_fast.pixel_scale(celestial), io_fast.library_pixel_scale(celestial)
    assert fast == pytest.approx(library, rel=1e-12)
    assert io_fast.pixel_scale(None) is None is io_fast.library_pixel_scale(None)


@pytest.mark.parametrize(
    "cards",
    [
        {},
        {"RADESYS": "FK5", "EQUINOX": 2000.0},
        {"RADESYS": "FK4", "EQUINOX": 1950.0},
        {"CTYPE1": "GLON-TAN", "CTYPE2": "GLAT-TAN", "RADESYS": ""},
        {"CTYPE1": "ELON-TAN", "CTYPE2": "ELAT-TAN", "RADESYS": ""},
    ],
)
def test_icrs_position_equals_skycoords_in_each_frame(cards):
    celestial = _celestial(**cards)
    for lon, lat in ((0.0, 0.0), (210.0, -45.0), (359.9, 89.0), (45.0, -89.5)):
        fast = io_fast.to_icrs(lon, lat, celestial)
        library = io_fast.library_to_icrs(lon, lat, celestial)
        assert fast[1] == pytest.approx(library[1], abs=1e-9)
        assert (fast[0] - library[0] + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-8)


def test_the_direct_reader_and_astropys_route_give_the_same_image(write_fits, monkeypatch):
    image = gaussian_blob(48)
    header = celestial_header(image.shape)
    header["OBJECT"], header["BMAJ"], header["BMIN"] = "o'brien", 1e-4, 8e-5
    path = write_fits("plain.fits", image, header)
    assert io_fast.read_plain(path) is not None
    direct = read_fits(path)
    monkeypatch.setattr(io_fast, "read_plain", io_fast.library_read_plain)
    library = read_fits(path)
    np.testing.assert_array_equal(direct.data, library.data)
    assert direct.meta.as_row() == library.meta.as_row()
    assert direct.wcs.to_header_string() == library.wcs.to_header_string()
