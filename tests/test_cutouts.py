"""Cutouts from a catalogue (sky or pixel positions, fixed or per-row sizes) and from a mask."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from conftest import celestial_header, spectral_cards
from morphospace.cli import main
from morphospace.errors import InputError
from morphospace.io import cutouts_from_catalog, cutouts_from_mask, parse_size, read_fits

PIXEL_ARCSEC = 1.0


@pytest.fixture
def cloud_map(tmp_path):
    """A 200x300 map with 1 arcsec pixels: three Gaussian clumps, pixel value = unique ramp."""
    ny, nx = 200, 300
    yy, xx = np.mgrid[:ny, :nx]
    data = (yy * 1000 + xx).astype(np.float32)  # lets a test check exactly which pixels were cut
    header = celestial_header((ny, nx), ra=150.0, dec=2.0, pixel_deg=PIXEL_ARCSEC / 3600)
    header.update(BUNIT="MJy/sr", BMAJ=3 / 3600, BMIN=3 / 3600, BPA=0.0, TELESCOP="Herschel")
    path = tmp_path / "map.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def _world(path, x, y):
    return WCS(fits.getheader(path)).pixel_to_world(x, y)


def _rows(index_csv):
    with open(index_csv) as handle:
        return list(csv.DictReader(handle))


def test_radec_catalogue_in_degrees_keeps_wcs_and_columns(tmp_path, cloud_map):
    positions = [(100.0, 80.0), (200.0, 120.0)]
    sky = [_world(cloud_map, x, y) for x, y in positions]
    table = Table(
        {
            "name": ["clumpA", "clumpB"],
            "RA": [c.ra.deg for c in sky],
            "DEC": [c.dec.deg for c in sky],
            "flux_250": [1.5, 2.5],
            "class": ["starless", "protostellar"],
        }
    )
    catalog = tmp_path / "cat.csv"
    table.write(catalog)
    result = cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size="21 arcsec")
    assert [r.status for r in result.records] == ["ok", "ok"]
    for (x, y), coord, name in zip(positions, sky, ["clumpA", "clumpB"], strict=True):
        path = tmp_path / "cut" / f"{name}.fits"
        data, header = fits.getdata(path, header=True)
        assert data.shape == (21, 21)
        assert data[10, 10] == y * 1000 + x  # the centre pixel is the catalogue position
        centre = WCS(header).pixel_to_world(10, 10)
        assert centre.separation(coord).arcsec < 0.01
        assert header["OBJECT"] == name and header["FLUX_250"] == pytest.approx(
            float(name[-1] == "B") + 1.5
        )
        assert header["BUNIT"] == "MJy/sr" and header["TELESCOP"] == "Herschel"
        assert header["BMAJ"] == pytest.approx(3 / 3600)
        assert header["CLASS"] in ("starless", "protostellar")
    image = read_fits(tmp_path / "cut" / "clumpA.fits")
    assert image.meta.pixel_scale == pytest.approx(1.0)


def test_sexagesimal_positions_and_arcmin_size(tmp_path, cloud_map):
    coord = _world(cloud_map, 150.0, 100.0)
    ra, dec = coord.to_string("hmsdms", sep=":", precision=4).split()
    catalog = tmp_path / "cat.csv"
    catalog.write_text(f"id,RAJ2000,DEJ2000\nsrc1,{ra},{dec}\n")
    cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size="0.35arcmin")
    data = fits.getdata(tmp_path / "cut" / "src1.fits")
    assert data.shape == (21, 21)
    assert data[10, 10] == 100 * 1000 + 150


def test_pixel_positions_with_size_column_and_units_fits_table(tmp_path, cloud_map):
    table = Table({"x": [50, 60], "y": [40, 150], "size": [10, 20] * u.arcsec})
    catalog = tmp_path / "cat.fits"
    table.write(catalog)
    result = cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size_column="size")
    shapes = [fits.getdata(tmp_path / "cut" / r.file).shape for r in result.records]
    assert shapes == [(10, 10), (20, 20)]
    assert fits.getheader(tmp_path / "cut" / result.records[0].file)["CATROW"] == 0


def test_ecsv_catalogue_and_one_based_pixels(tmp_path, cloud_map):
    table = Table({"xcentroid": [101.0], "ycentroid": [51.0]})
    catalog = tmp_path / "cat.ecsv"
    table.write(catalog)
    cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size=11, pixel_origin=1)
    data = fits.getdata(tmp_path / "cut" / "cutout_00000.fits")
    assert data[5, 5] == 50 * 1000 + 100


@pytest.mark.parametrize("edge", ["pad", "skip"])
def test_objects_at_the_edge_are_padded_or_skipped_and_reported(tmp_path, cloud_map, edge):
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,x,y\ncentre,150,100\ncorner,2,3\n")
    result = cutouts_from_catalog(cloud_map, catalog, tmp_path / edge, size=16, edge=edge)
    statuses = {r.name: r.status for r in result.records}
    assert statuses == {"centre": "ok", "corner": "padded" if edge == "pad" else "skipped"}
    index = _rows(result.index_path)
    assert [row["status"] for row in index] == ["ok", statuses["corner"]]
    corner = tmp_path / edge / "corner.fits"
    if edge == "pad":
        data, header = fits.getdata(corner, header=True)
        assert data.shape == (16, 16) and np.isnan(data[0, 0]) and data[8, 8] == 3 * 1000 + 2
        # The WCS still puts the catalogue position at the right pixel of the padded cutout.
        original = _world(cloud_map, 2, 3)
        assert WCS(header).pixel_to_world(8, 8).separation(original).arcsec < 0.01
    else:
        assert not corner.exists()


def test_outside_position_fails_before_writing_or_is_skipped(tmp_path, cloud_map):
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,x,y\ngood,100,100\nfar,-50,100\nfarther,900,100\n")
    with pytest.raises(InputError, match=r"row 1 \(far\).*outside the map.*1 more rows"):
        cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size=16)
    assert not (tmp_path / "cut" / "good.fits").exists()  # nothing half-written
    result = cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size=16, outside="skip")
    assert [r.status for r in result.records] == ["ok", "skipped", "skipped"]
    assert [r.name for r in result.written] == ["good"]


def test_catalogue_problems_are_clear(tmp_path, cloud_map):
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,foo,bar\na,1,2\n")
    with pytest.raises(InputError, match="no position columns"):
        cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size=16)
    with pytest.raises(InputError, match="no column 'ra'"):
        cutouts_from_catalog(
            cloud_map, catalog, tmp_path / "cut", size=16, ra_column="ra", dec_column="dec"
        )
    with pytest.raises(InputError, match="size"):
        parse_size("3 parsec")
    assert parse_size("64") == 64 * u.pix and parse_size("2arcmin") == 2 * u.arcmin


def test_cube_map_is_cut_spatially(tmp_path):
    cube = np.arange(5 * 40 * 50, dtype=np.float32).reshape(5, 40, 50)
    header = spectral_cards(celestial_header(cube.shape), 5, "VRAD")
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube, header).writeto(path)
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,x,y\nc,25,20\n")
    cutouts_from_catalog(path, catalog, tmp_path / "cut", size=16)
    image = read_fits(tmp_path / "cut" / "c.fits")
    assert image.data.shape == (5, 16, 16)
    np.testing.assert_array_equal(image.data, cube[:, 12:28, 17:33])
    assert image.meta.spectral.ctype == "VRAD"


def test_mask_components_with_margin_and_min_area(tmp_path, cloud_map):
    mask = np.zeros((200, 300), np.uint8)
    mask[20:40, 30:60] = 1  # 600 px
    mask[100, 100:102] = 1  # 2 px: below min_area
    mask[150:190, 250:299] = 1  # 40x49 touching the right edge after the margin
    mask[60, 200] = mask[61, 201] = mask[62, 202] = 1  # diagonal: one 8-connected component
    mask_path = tmp_path / "mask.fits"
    fits.PrimaryHDU(mask).writeto(mask_path)
    result = cutouts_from_mask(cloud_map, mask_path, tmp_path / "cut", margin=4, min_area=3)
    assert len(result.records) == 3
    first = fits.getdata(tmp_path / "cut" / result.records[0].file)
    assert first.shape == (20 + 8, 30 + 8)
    assert first[4, 4] == 20 * 1000 + 30  # component's first pixel inside the margin
    statuses = sorted(r.status for r in result.records)
    assert statuses == ["ok", "ok", "padded"]
    diagonal = next(r for r in result.records if r.y == 61)
    assert fits.getdata(tmp_path / "cut" / diagonal.file).shape == (16, 16)  # grown to min_side
    header = fits.getheader(tmp_path / "cut" / result.records[0].file)
    assert header["MASKAREA"] == 600


def test_label_map_and_isolate(tmp_path, cloud_map):
    labels = np.zeros((200, 300), np.int32)
    labels[50:70, 50:70] = 3
    labels[50:70, 72:90] = 8  # adjacent to label 3: stays a separate object
    path = tmp_path / "labels.fits"
    fits.PrimaryHDU(labels).writeto(path)
    result = cutouts_from_mask(cloud_map, path, tmp_path / "cut", margin=4, isolate=True)
    assert sorted(r.index for r in result.records) == [3, 8]
    three = fits.getdata(tmp_path / "cut" / next(r.file for r in result.records if r.index == 3))
    assert np.isnan(three).any()  # pixels of label 8 blanked
    assert np.isfinite(three[4:24, 4:24]).all()


def test_mask_shape_mismatch(tmp_path, cloud_map):
    path = tmp_path / "small_mask.fits"
    fits.PrimaryHDU(np.ones((50, 50), np.uint8)).writeto(path)
    with pytest.raises(InputError, match="does not match"):
        cutouts_from_mask(cloud_map, path, tmp_path / "cut")


def _cutouts_cli(*args) -> int:
    return main(["cutouts", *map(str, args)])


def test_cli_cutouts_reports_edge_objects(tmp_path, cloud_map, capsys):
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,x,y\nmid,150,100\nedge,298,100\n")
    assert _cutouts_cli(cloud_map, "--catalog", catalog, "--size", 20, "-o", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "wrote 2 cutouts" in out and "1 objects at the map edge" in out
    assert "edge: x=298.0" in out
    code = _cutouts_cli(
        cloud_map, "--catalog", catalog, "--size", 20, "--edge", "skip", "-o", tmp_path / "s"
    )
    out = capsys.readouterr().out
    assert code == 0 and "wrote 1 cutouts" in out and "skipped" in out


def test_galactic_catalogue_on_equatorial_map(tmp_path, cloud_map):
    coord = _world(cloud_map, 120.0, 90.0).galactic
    catalog = tmp_path / "cat.csv"
    catalog.write_text(f"name,GLON,GLAT\ng1,{float(coord.l.deg)!r},{float(coord.b.deg)!r}\n")
    cutouts_from_catalog(cloud_map, catalog, tmp_path / "cut", size=9)
    assert fits.getdata(tmp_path / "cut" / "g1.fits")[4, 4] == 90 * 1000 + 120
    assert isinstance(coord, SkyCoord)
