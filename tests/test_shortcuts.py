"""Each speed shortcut gives what the library call it stands in for gives, on varied inputs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from conftest import celestial_header, gaussian_blob
from morphospace.io import _fast as io_fast
from morphospace.io import read_fits
from morphospace.preprocess import _fast as preprocess_fast
from morphospace.report import _fast as report_fast


@pytest.mark.parametrize("module", [io_fast, preprocess_fast, report_fast])
def test_every_shortcut_names_its_library_call(module):
    assert module.LIBRARY, module
    for name, library in module.LIBRARY.items():
        assert callable(getattr(module, name)) and library is not getattr(module, name)
        assert module.__doc__ and f":func:`{name}`" in module.__doc__


TEXT_COLUMNS = [
    [f"src{i}" for i in range(50)],  # ids: one a line
    ["b", "a", None, "b", "Ä", "a", "c", "a"] * 5,  # names: codes, code-point order
    ["one\nline", None, "x"],  # a newline inside a value, a missing value
    ["é", "e", "Z", "z", "\u00e9", "10", "9"] * 3,
    [],
    [None, None, None, None],
]


@pytest.mark.parametrize(
    ("values", "dtype"),
    [(values, dtype) for values in TEXT_COLUMNS for dtype in (object, "str")]
    + [([1, "a", 2.5, "a"] * 4, object)],  # not all text: the library's route
)
def test_text_columns_encode_as_pandas_factorize_and_join_give(values, dtype):
    import pandas as pd

    series = pd.Series(values, dtype=dtype)
    for limit in (2, 1000):
        fast = report_fast.encode_text(series, limit)
        library = report_fast.library_encode_text(series, limit)
        assert type(fast) is type(library)
        if isinstance(fast, str):
            assert fast == library
        else:
            assert fast[1] == library[1] and np.array_equal(fast[0], library[0])
            assert fast[0].dtype == np.dtype("<i4")


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
