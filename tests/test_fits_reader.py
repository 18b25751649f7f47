"""Reading images and cubes: layouts, compression, scaling, HDU choice and metadata."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from conftest import celestial_header, gaussian_blob, spectral_cards
from morphospace.io import read_fits


def test_reads_2d_image_as_native_float32(write_fits):
    data = gaussian_blob().astype(">f8")  # big-endian double, as FITS stores it
    path = write_fits("img.fits", data, celestial_header(data.shape))
    image = read_fits(path)
    assert image.data.shape == (48, 48)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    np.testing.assert_allclose(image.data, gaussian_blob(), rtol=1e-6)
    assert not image.mask.any() and not image.is_cube


def test_big_endian_integer_image(write_fits):
    data = (np.arange(32 * 32).reshape(32, 32)).astype(">i4")
    image = read_fits(write_fits("int.fits", data))
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    assert image.data[31, 31] == 32 * 32 - 1


def test_bscale_bzero_blank_applied_and_masked(write_fits):
    raw = np.arange(32 * 32, dtype=np.int16).reshape(32, 32)
    path = write_fits("scaled.fits", raw)
    # Add the scaling keywords afterwards so the stored integers stay as written.
    with fits.open(path, mode="update") as hdul:
        hdul[0].header.update(BSCALE=2.0, BZERO=10.0, BLANK=7)
    image = read_fits(path)
    assert image.data[0, 1] == pytest.approx(2.0 * 1 + 10.0)
    assert image.mask[0, 7] and np.isnan(image.data[0, 7])
    assert image.mask.sum() == 1
    assert image.meta.nan_fraction == pytest.approx(1 / 1024)


def test_blank_without_scaling_masks_integer_pixels(write_fits):
    raw = np.ones((32, 32), dtype=np.int32)
    raw[:2] = -99
    path = write_fits("blank.fits", raw)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["BLANK"] = -99
    image = read_fits(path)
    assert image.mask[:2].all() and not image.mask[2:].any()


def test_non_finite_pixels_become_mask(write_fits):
    data = gaussian_blob()
    data[0, :5] = np.nan
    data[1, 0] = np.inf
    image = read_fits(write_fits("nan.fits", data))
    assert image.mask.sum() == 6
    assert np.isnan(image.data[image.mask]).all()


@pytest.mark.parametrize("suffix", [".fits.gz", ".fz"])
def test_compressed_files(tmp_path, suffix):
    data = gaussian_blob()
    path = tmp_path / f"img{suffix}"
    if suffix == ".fz":
        hdus = [fits.PrimaryHDU(), fits.CompImageHDU(data, celestial_header(data.shape))]
        fits.HDUList(hdus).writeto(path)
    else:
        fits.PrimaryHDU(data, celestial_header(data.shape)).writeto(path)
    image = read_fits(path)
    assert image.data.shape == (48, 48)
    assert image.data.max() == pytest.approx(data.max(), rel=1e-2)
    assert image.meta.pixel_scale == pytest.approx(0.1)


def test_first_image_hdu_is_chosen_and_can_be_named(write_fits):
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="a", format="E", array=[1.0])], name="CAT"
    )
    sci = fits.ImageHDU(gaussian_blob(), name="SCI")
    err = fits.ImageHDU(np.full((40, 40), 3.0, np.float32), name="ERR")
    path = write_fits("mef.fits", None, extra=[table, sci, err])
    assert read_fits(path).meta.hdu_name == "SCI"
    assert read_fits(path, hdu="ERR").data.shape == (40, 40)
    assert read_fits(path, hdu="3").meta.hdu == 3
    assert read_fits(path, hdu=2).meta.hdu_name == "SCI"


def test_3d_cube_with_frequency_axis(write_fits):
    cube = np.stack([gaussian_blob() * k for k in range(1, 9)])
    header = spectral_cards(celestial_header(cube.shape), 8, "FREQ")
    image = read_fits(write_fits("cube.fits", cube, header))
    assert image.is_cube and image.data.shape == (8, 48, 48)
    spectral = image.meta.spectral
    assert spectral.ctype == "FREQ" and spectral.unit == "Hz"
    assert spectral.step == pytest.approx(-230.538e9 * 0.5 / 299792.458)
    velocities = spectral.velocities()
    assert np.diff(velocities) == pytest.approx(np.full(7, 0.5), rel=1e-6)
    assert velocities.mean() == pytest.approx(0.0, abs=1e-6)


def test_4d_alma_cube_with_degenerate_stokes(write_fits):
    cube = np.stack([gaussian_blob()] * 6)[None]  # (Stokes, freq, y, x)
    header = spectral_cards(celestial_header(cube.shape), 6, "VRAD")
    header.update(CTYPE4="STOKES", CRVAL4=1.0, CDELT4=1.0, CRPIX4=1.0)
    image = read_fits(write_fits("alma.fits", cube, header))
    assert image.data.shape == (6, 48, 48)
    assert image.wcs.naxis == 3
    assert image.meta.spectral.ctype == "VRAD"
    assert image.meta.spectral.velocities()[1] - image.meta.spectral.velocities()[
        0
    ] == pytest.approx(0.5)


def test_full_stokes_cube_takes_stokes_i(write_fits):
    planes = [np.full((1, 32, 32), v, np.float32) for v in (5.0, 1.0, 2.0, 3.0)]  # I, Q, U, V
    data = np.stack(planes)  # (4, 1, 32, 32)
    header = spectral_cards(celestial_header(data.shape), 1, "FREQ")
    header.update(CTYPE4="STOKES", CRVAL4=1.0, CDELT4=1.0, CRPIX4=1.0)
    image = read_fits(write_fits("iquv.fits", data, header))
    assert image.data.shape == (32, 32)  # Stokes I taken, single channel dropped
    assert np.all(image.data == 5.0)


def test_metadata_from_header_and_wcs(write_fits):
    data = gaussian_blob()
    header = celestial_header(data.shape, ra=83.8221, dec=-5.3911)
    header.update(
        OBJECT="HL Tau",
        BUNIT="Jy/beam",
        RESTFRQ=230.538e9,
        BMAJ=0.5 / 3600,
        BMIN=0.25 / 3600,
        BPA=30.0,
    )
    meta = read_fits(write_fits("meta.fits", data, header)).meta
    assert meta.object == "HL Tau"
    assert meta.bunit == "Jy/beam"
    assert meta.restfrq == pytest.approx(230.538e9)
    assert meta.pixel_scale == pytest.approx(0.1)
    assert (meta.beam.major, meta.beam.minor, meta.beam.pa) == pytest.approx((0.5, 0.25, 30.0))
    assert meta.ra == pytest.approx(83.8221, abs=1e-6)  # image centre is the reference pixel
    assert meta.dec == pytest.approx(-5.3911, abs=1e-6)
    assert meta.shape == (48, 48)
    row = meta.as_row()
    assert row["bmaj"] == pytest.approx(0.5) and row["shape"] == "48x48"


def test_obsra_obsdec_preferred_and_galactic_wcs_converted(write_fits):
    data = gaussian_blob()
    header = celestial_header(data.shape)
    header.update(OBSRA=10.0, OBSDEC=20.0)
    meta = read_fits(write_fits("obs.fits", data, header)).meta
    assert (meta.ra, meta.dec) == (10.0, 20.0)
    galactic = celestial_header(data.shape, ra=0.0, dec=0.0)
    galactic.update(CTYPE1="GLON-TAN", CTYPE2="GLAT-TAN")
    del galactic["RADESYS"]
    meta = read_fits(write_fits("gal.fits", data, galactic)).meta
    assert meta.ra == pytest.approx(266.405, abs=0.01)  # Galactic centre in ICRS
    assert meta.dec == pytest.approx(-28.936, abs=0.01)


def test_beam_from_casa_beams_table(write_fits):
    cube = np.stack([gaussian_blob()] * 3)
    header = spectral_cards(celestial_header(cube.shape), 3)
    beams = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="BMAJ", format="E", unit="arcsec", array=[0.4, 0.5, 0.6]),
            fits.Column(name="BMIN", format="E", unit="arcsec", array=[0.2, 0.3, 0.4]),
            fits.Column(name="BPA", format="E", unit="deg", array=[10.0, 20.0, 30.0]),
            fits.Column(name="CHAN", format="J", array=[0, 1, 2]),
            fits.Column(name="POL", format="J", array=[0, 0, 0]),
        ],
        name="BEAMS",
    )
    meta = read_fits(write_fits("beams.fits", cube, header, extra=[beams])).meta
    assert (meta.beam.major, meta.beam.minor, meta.beam.pa) == pytest.approx((0.5, 0.3, 20.0))


def test_no_wcs_gives_no_scale_but_reads(write_fits):
    meta = read_fits(write_fits("plain.fits", gaussian_blob())).meta
    assert meta.pixel_scale is None and meta.ra is None and meta.beam is None


def test_sip_distortion_is_kept(write_fits):
    data = gaussian_blob()
    header = celestial_header(data.shape)
    header.update(CTYPE1="RA---TAN-SIP", CTYPE2="DEC--TAN-SIP", A_ORDER=2, B_ORDER=2)
    header.update(A_2_0=1e-5, B_0_2=-1e-5)
    image = read_fits(write_fits("sip.fits", data, header))
    assert image.wcs.sip is not None and image.wcs.sip.a_order == 2
    assert image.meta.pixel_scale == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("lon_type", "lat_type", "extra", "frame"),
    [
        ("GLON-TAN", "GLAT-TAN", {}, "galactic"),
        ("RA---TAN", "DEC--TAN", {"RADESYS": "FK5", "EQUINOX": 2000.0}, "fk5"),
        ("RA---TAN", "DEC--TAN", {"RADESYS": "FK4", "EQUINOX": 1950.0}, "fk4"),
        ("DEC--TAN", "RA---TAN", {"CRVAL1": -30.0, "CRVAL2": 120.0}, "latitude_first"),
    ],
)
def test_sky_position_matches_astropy_in_every_frame(write_fits, lon_type, lat_type, extra, frame):
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS

    data = gaussian_blob()
    header = celestial_header(data.shape, ra=120.0, dec=-30.0)
    header.update(CTYPE1=lon_type, CTYPE2=lat_type)
    del header["RADESYS"]
    header.update(extra)
    path = write_fits(f"{frame}.fits", data, header)
    meta = read_fits(path).meta
    expected = WCS(fits.getheader(path)).pixel_to_world(23.5, 23.5).icrs
    assert expected.separation(SkyCoord(meta.ra, meta.dec, unit="deg")).arcsec < 1e-6


def test_plain_files_read_directly_match_the_astropy_route(tmp_path, write_fits):
    # read_fits(path) parses plain float images itself; hdu=0 forces astropy's reader.
    from morphospace.io.fits import _read_plain
    from morphospace.synth import synthesize

    synthesize(tmp_path / "set", 24, cubes=True, seed=11, workers=1)
    image = gaussian_blob(32).astype(np.float64)
    header = celestial_header(image.shape)
    header["OBJECT"], header["BUNIT"] = "It's a 'quoted' name", "Jy/beam"
    header["BMAJ"], header["BMIN"], header["BPA"] = 1e-4, 5e-5, 30.0
    extra = write_fits("quoted.fits", image, header)
    no_beam = write_fits("no_beam.fits", image, celestial_header(image.shape))
    for path in [*sorted((tmp_path / "set" / "images").glob("*.fits")), extra, no_beam]:
        assert _read_plain(path, None, 16) is not None  # the direct route took it
        direct, astropy_route = read_fits(path), read_fits(path, hdu=0)
        np.testing.assert_array_equal(direct.data, astropy_route.data)
        assert direct.meta.as_row() == astropy_route.meta.as_row()
        assert direct.wcs.to_header_string() == astropy_route.wcs.to_header_string()
    assert read_fits(extra).meta.object == "It's a 'quoted' name"
