"""Catalogues in: read in four formats, matched to objects by columns, sky, OBJECT or file name."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from conftest import celestial_header
from morphospace.cli import main
from morphospace.embed import EmbeddingTable
from morphospace.errors import InputError
from morphospace.io import cutouts_from_catalog, parse_size
from morphospace.io.catalogue import CatalogueJoin, match_catalogue, read_catalogue
from morphospace.pipeline import header_rows

CENTRE = SkyCoord(150.0 * u.deg, 2.0 * u.deg)
NAMES = ["SDC 30.331-0.320", "SDC 30.410-0.250", "SDC 30.502-0.101", "SDC 30.600-0.050"]


@pytest.fixture
def cut(tmp_path):
    """Four clumps cut by ``morphospace cutouts`` from a map and its catalogue, and the
    catalogue's positions."""
    ny, nx = 200, 300
    yy, xx = np.mgrid[:ny, :nx]
    data = np.random.default_rng(0).normal(0, 0.01, (ny, nx)).astype(np.float32)
    offsets = [(-100, -60), (-30, 40), (40, -50), (100, 60)]  # arcsec east, north
    for east, north in offsets:
        x, y = nx / 2 - 0.5 - east, ny / 2 - 0.5 + north  # 1 arcsec pixels, RA grows left
        data += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 18).astype(np.float32)
    header = celestial_header((ny, nx), ra=150.0, dec=2.0, pixel_deg=1 / 3600)
    header.update(BMAJ=4 / 3600, BMIN=4 / 3600, BPA=0.0)
    map_path = tmp_path / "map.fits"
    fits.PrimaryHDU(data, header).writeto(map_path)
    sky = [CENTRE.spherical_offsets_by(e * u.arcsec, n * u.arcsec) for e, n in offsets]
    catalogue = tmp_path / "clumps.csv"
    Table({"name": NAMES, "RA": [c.ra.deg for c in sky], "DEC": [c.dec.deg for c in sky]}).write(
        catalogue
    )
    result = cutouts_from_catalog(map_path, catalogue, tmp_path / "cutouts", size="8 beam")  # 32 px
    assert [r.status for r in result.records] == ["ok"] * 4
    return tmp_path / "cutouts", sky


def _objects(folder) -> pd.DataFrame:
    from morphospace.config import load_settings

    return header_rows(load_settings(None, {"data.sources": [str(folder)]}))


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".vot"])
def test_catalogues_are_read_in_four_formats(tmp_path, suffix):
    path = tmp_path / f"catalogue{suffix}"
    written = Table({"Name": ["a", "b"], "flux": [1.5, 2.5] * u.mJy})
    if suffix != ".csv":  # CSV holds no array columns
        written["spectrum"] = np.ones((2, 3))
    written.write(path, format="votable" if suffix == ".vot" else None)
    read = read_catalogue(path)
    assert list(read["Name"]) == ["a", "b"] and list(read["flux"]) == [1.5, 2.5]
    frame = CatalogueJoin(path).match(pd.DataFrame({"id": ["b", "a"]}))[0]
    assert frame["flux"].tolist() == [2.5, 1.5] and "spectrum" not in frame  # arrays left out


def test_a_bad_catalogue_is_one_line_naming_it(tmp_path):
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"not a table")
    for path, problem in ((broken, "cannot read the catalogue"), (tmp_path / "no.csv", "no such")):
        with pytest.raises(InputError, match=problem) as caught:
            read_catalogue(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_cutouts_join_their_catalogue_by_sky_position(cut, tmp_path):
    folder, sky = cut
    objects = _objects(folder)
    # positions 1" off, no names; one far row and a second row beside the first clump
    nudged = [c.spherical_offsets_by(1 * u.arcsec, 0 * u.arcsec) for c in sky]
    twin = sky[0].spherical_offsets_by(0 * u.arcsec, 2 * u.arcsec)
    far = CENTRE.spherical_offsets_by(0 * u.arcsec, 500 * u.arcsec)
    ra = [c.ra.deg for c in [*nudged, twin, far]]
    dec = [c.dec.deg for c in [*nudged, twin, far]]
    table = Table({"RAJ2000": ra, "DEJ2000": dec, "peak": [1.0, 2.0, 3.0, 4.0, 9.0, 0.0]})
    table["RAJ2000"].unit = table["DEJ2000"].unit = u.deg
    path = tmp_path / "positions.vot"
    table.write(path, format="votable")
    found = match_catalogue(objects, read_catalogue(path), path)
    assert found.method.startswith("sky position") and found.matched == 4
    by_name = dict(zip(objects["object"].fillna(objects["id"]), found.rows, strict=True))
    assert [by_name[n] for n in sorted(by_name)] == [0, 1, 2, 3]
    assert found.ambiguous == 1  # the first clump has its twin within 3 arcsec
    assert "4 of 4 objects matched by sky position" in found.summary(path)
    with pytest.raises(InputError, match="no row matches any of the 4 objects"):
        match_catalogue(objects, read_catalogue(path), path, radius=0.5)  # all 1 arcsec off


def test_names_match_without_case_spaces_or_underscores(cut, tmp_path):
    folder, _ = cut
    objects = _objects(folder)
    assert sorted(p.name for p in folder.glob("*.fits"))[0] == "SDC_30.331-0.320.fits"
    path = tmp_path / "names.csv"
    written = [n.lower() for n in NAMES[::-1]]  # "sdc 30.331-0.320": spaces and lower case
    pd.DataFrame({"Name": written, "kind": ["d", "c", "b", "a"]}).to_csv(path, index=False)
    aligned, found = CatalogueJoin(path).match(objects)
    assert found.matched == 4 and "column Name" in found.method
    stems = [p.removeprefix("SDC_") for p in objects["id"]]
    assert dict(zip(stems, aligned["kind"], strict=True)) == {
        "30.331-0.320": "a", "30.410-0.250": "b", "30.502-0.101": "c", "30.600-0.050": "d",
    }  # fmt: skip


def test_an_explicit_pair_of_columns_wins_and_a_wrong_name_is_blamed(cut, tmp_path):
    folder, _ = cut
    objects = _objects(folder).assign(survey_index=[10, 11, 12, 13])
    path = tmp_path / "indexed.csv"
    pd.DataFrame({"idx": [13, 12, 11, 10], "mass": [4, 3, 2, 1]}).to_csv(path, index=False)
    aligned, found = CatalogueJoin(path, on="survey_index=idx").match(objects)
    assert found.method == "column survey_index=idx" and aligned["mass"].tolist() == [1, 2, 3, 4]
    with pytest.raises(InputError, match="has no column 'index'"):
        CatalogueJoin(path, on="survey_index=index").match(objects)
    with pytest.raises(InputError, match="--join-on: the objects have no column 'nope'"):
        CatalogueJoin(path, on="nope=idx").match(objects)


def test_report_joins_a_fits_catalogue_by_sky_and_says_how_many_matched(cut, tmp_path, capsys):
    folder, sky = cut
    rows = _objects(folder)
    table_path = tmp_path / "embeddings.parquet"
    vectors = np.random.default_rng(1).normal(size=(len(rows), 8))
    EmbeddingTable(rows, vectors, {}).write(table_path)
    catalogue = tmp_path / "herschel.fits"
    off = [c.spherical_offsets_by(0 * u.arcsec, 1 * u.arcsec) for c in sky[:3]]  # 1" north
    Table({"ra": [c.ra.deg for c in off], "dec": [c.dec.deg for c in off],
           "tdust": [12.0, 14.0, 16.0]}).write(catalogue)  # fmt: skip
    argv = ["report", str(table_path), "--join", str(catalogue), "--map", "pca", "-k", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 of 4 objects matched by sky position (within 3 arcsec); 1 unmatched" in printed
    joined = EmbeddingTable.read(table_path).rows
    assert joined["tdust"].notna().sum() == 3
    assert main([*argv, "--color-by", "tdust"]) == 0
    assert (table_path.parent / "report" / "map_tdust.png").exists()
    argv += ["--match-radius", '0.2"', "--color-by", "tdust"]
    assert main(argv) == 2  # nothing within 0.2 arcsec, and the names do not match either
    assert "no row matches any of the 4 objects" in capsys.readouterr().err
    assert main([*argv[:-4], "--match-radius", "ten"]) == 2
    assert "--match-radius: cannot read 'ten'" in capsys.readouterr().err


def test_evaluate_reads_its_labels_from_a_votable_matched_on_named_columns(cut, tmp_path):
    folder, _ = cut
    rows = _objects(folder).assign(number=[1, 2, 3, 4])
    table_path = tmp_path / "embeddings.parquet"
    vectors = np.repeat(np.eye(2), 2, axis=0) + 0.01 * np.random.default_rng(2).normal(size=(4, 2))
    EmbeddingTable(rows, vectors, {}).write(table_path)
    labels = tmp_path / "kinds.vot"
    Table({"seq": [4, 3, 2, 1], "kind": ["b", "b", "a", "a"]}).write(labels, format="votable")
    argv = ["evaluate", str(table_path), "--labels", f"{labels}:kind", "--no-invariance"]
    assert main([*argv, "--join-on", "number=seq", "-o", str(tmp_path / "ev")]) == 0
    scores = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert scores["rows"][0]["knn"] == 1.0  # objects 1, 2 are "a" and 3, 4 "b": apart
    # no run behind the table: the untrained network is left out, and said to be
    assert any("untrained network not scored" in note for note in scores["notes"])
    assert main(argv) == 2  # without the pair nothing names the objects


def test_sizes_are_read_as_astronomers_write_them():
    assert parse_size("2'") == 2 * u.arcmin and parse_size('120"') == 120 * u.arcsec
    assert parse_size("64px") == 64 * u.pix and parse_size("3 beam") == 3 * u.beam
    with pytest.raises(InputError, match=r"^--size: "):
        parse_size("3 parsec")


def test_a_bad_size_is_blamed_on_the_option_not_the_catalogue(cut, tmp_path, capsys):
    argv = ["cutouts", str(tmp_path / "map.fits"), "-o", str(tmp_path / "again"),
            "--catalog", str(tmp_path / "clumps.csv"), "--size", "huge"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--size: cannot read 'huge'" in err and "clumps.csv" not in err
