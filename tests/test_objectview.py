"""The object view: pixels through astropy.visualization, and the header's geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits

from conftest import PIXEL_DEG, celestial_header, spectral_cards
from morphospace.errors import InputError
from morphospace.io import read_fits
from morphospace.report.objectview import geometry, plane_of, render, value_at


def _cube(tmp_path, rotation_deg: float = 0.0):
    header = spectral_cards(celestial_header((5, 30, 40)), 5, kind="VRAD")
    header["BMAJ"], header["BMIN"], header["BPA"] = 4 * PIXEL_DEG, 2 * PIXEL_DEG, 0.0
    if rotation_deg:
        angle = math.radians(rotation_deg)
        header["PC1_1"], header["PC1_2"] = math.cos(angle), -math.sin(angle)
        header["PC2_1"], header["PC2_2"] = math.sin(angle), math.cos(angle)
    data = np.arange(5 * 30 * 40, dtype=np.float32).reshape(5, 30, 40)
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data, header).writeto(path, overwrite=True)
    return read_fits(path), data


def test_a_cube_shows_its_moment_0_or_one_channel_with_its_velocity(tmp_path):
    image, data = _cube(tmp_path)
    found = geometry(image)
    assert found.channels == 5 and found.channel_unit == "km/s"
    assert found.channel_values == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert np.array_equal(plane_of(image, 3), data[3])
    assert np.allclose(plane_of(image), data.sum(axis=0))
    with pytest.raises(InputError, match="has channels 0-4, not 7"):
        plane_of(image, 7)
    picture = render(plane_of(image, 0), "linear", "minmax", "gray")
    # top row first: the last FITS row is the brightest row of this ramp
    assert picture.shape == (30, 40, 3) and picture[0, -1].sum() > picture[-1, 0].sum()


def test_north_east_and_the_beam_follow_the_wcs(tmp_path):
    image, _ = _cube(tmp_path)
    found = geometry(image)
    assert found.north == pytest.approx((0, -1), abs=1e-6)  # up on the screen
    assert found.east == pytest.approx((-1, 0), abs=1e-6)  # left, as on the sky
    major, minor, angle = found.beam
    assert (major, minor) == pytest.approx((4, 2)) and abs(math.sin(math.radians(angle))) == 1
    turned, _ = _cube(tmp_path, rotation_deg=30)
    north = geometry(turned).north  # PC rotated by 30 degrees: north is pixel (sin, cos) 30
    assert math.degrees(math.atan2(north[0], -north[1])) == pytest.approx(30, abs=0.1)


def test_the_value_under_the_pointer_is_the_pixels_and_its_sky_position(tmp_path):
    image, data = _cube(tmp_path)
    plane = plane_of(image, 2)
    at = value_at(image, plane, 5.5, 0.2)  # the top row on screen: the last FITS row
    assert (at["x"], at["y"], at["value"]) == (5, 29, float(data[2, 29, 5]))
    ra, dec = image.wcs.celestial.pixel_to_world_values(5, 29)
    assert (at["ra"], at["dec"]) == pytest.approx((float(ra), float(dec)))
    with pytest.raises(InputError, match=r"has no pixel at \(40, 3\)"):
        value_at(image, plane, 40, 3)


def test_every_stretch_and_range_gives_a_picture_and_blank_pixels_stay_blank():
    plane = np.random.default_rng(0).lognormal(size=(20, 20)).astype(np.float32)
    plane[0, 0] = np.nan
    pictures = {
        (stretch, interval): render(plane, stretch, interval)
        for stretch in ("linear", "sqrt", "log", "asinh")
        for interval in ("99.5%", "minmax", "zscale")
    }
    assert len({p.tobytes() for p in pictures.values()}) == len(pictures)  # all differ
    assert all(tuple(p[-1, 0]) == (40, 44, 52) for p in pictures.values())  # NaN at FITS (0, 0)
    with pytest.raises(InputError, match="unknown colour map 'jet'"):
        render(plane, colour_map="jet")
