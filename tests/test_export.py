"""Exported selections read back as they were: tables with units, DS9 regions, file lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.table import Table

from morphospace.cli import main
from morphospace.embed import EmbeddingTable
from morphospace.errors import InputError
from morphospace.explore import RunTable
from morphospace.io import find_sources
from morphospace.report.export import write_selection


def _table(tmp_path) -> EmbeddingTable:
    paths = []
    for name in ("disk_a", "disk_b", "clump c"):
        path = tmp_path / "data" / f"{name}.fits"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
        paths.append(str(path))
    rows = pd.DataFrame(
        {
            "id": ["disk_a", "disk_b", "clump c"],
            "path": paths,
            "object": ["HD 163296", None, "clump {7}"],
            "ra": [269.0886, 10.5, np.nan],
            "dec": [-21.9562, -30.25, np.nan],
            "pixel_scale": [0.05, 0.1, 6.0],
            "bmaj": [0.1, None, 18.0],
            "shape": ["200x200", "64x80", "40x40"],
            "class": ["ringed", "smooth", "clump"],
        }
    )
    return EmbeddingTable(rows, np.zeros((3, 4), np.float32), {})


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".vot", ".fits"])
def test_a_selection_reads_back_as_a_table_with_units(tmp_path, suffix):
    path = write_selection(RunTable(_table(tmp_path)), tmp_path / f"chosen{suffix}", [0, 2])
    back = Table.read(path)
    assert list(back["id"]) == ["disk_a", "clump c"] and list(back["class"]) == ["ringed", "clump"]
    ra = np.ma.filled(np.ma.asarray(back["ra"], dtype=float), np.nan)
    assert ra[0] == pytest.approx(269.0886) and np.isnan(ra[1])
    assert "embedding" not in back.colnames
    if suffix != ".csv":  # plain CSV has no place for units
        assert back["ra"].unit == u.deg and back["pixel_scale"].unit == u.arcsec
    if suffix == ".vot":
        assert back["ra"].meta.get("ucd", "").startswith("pos.eq.ra")


def test_ds9_regions_circle_each_object_with_a_sky_position(tmp_path):
    path = write_selection(RunTable(_table(tmp_path)), tmp_path / "chosen.reg")
    lines = path.read_text().splitlines()
    assert lines[:3] == ["# Region file format: DS9 version 4.1", "global color=cyan", "fk5"]
    circles = lines[3:]
    assert len(circles) == 2  # the third object has no RA/Dec
    assert circles[0] == 'circle(269.0886000,-21.9562000,5.00") # text={disk_a}'
    assert circles[1].startswith("circle(10.5000000,-30.2500000,4.00")


def test_a_file_list_is_what_train_reads(tmp_path):
    path = write_selection(RunTable(_table(tmp_path)), tmp_path / "lists" / "chosen.txt", [1, 2])
    assert [p.name for p in find_sources([path])] == ["disk_b.fits", "clump c.fits"]


def test_an_unknown_format_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(InputError, match="unknown export format"):
        write_selection(RunTable(_table(tmp_path)), tmp_path / "chosen.xlsx")
    assert not (tmp_path / "chosen.xlsx").exists()


def _explored(tmp_path) -> Path:
    """A run folder: a table with map columns and clusters, and the explorer's labels."""
    table = _table(tmp_path)
    table = table.with_columns({"x": [0.1, 0.2, 0.3], "y": [1.0, 2.0, 3.0],
                                "cluster": [0, 1, 1], "anomaly": [0.2, 0.9, 0.5]})  # fmt: skip
    table.embeddings = np.arange(12, dtype=np.float32).reshape(3, 4)
    run = tmp_path / "run"
    table.write(run / "embeddings.parquet")
    (run / "labels.csv").write_text("id,label\ndisk_b,smooth ring\n")
    (run / "marks.csv").write_text("id,interesting\nclump c,1\n")
    return run


@pytest.mark.parametrize("suffix", [".fits", ".vot", ".ecsv", ".csv"])
def test_export_writes_every_column_with_labels_units_and_regions(tmp_path, suffix, capsys):
    from regions import Regions

    run = _explored(tmp_path)
    out = tmp_path / "out" / f"objects{suffix}"
    argv = ["export", str(run), "-o", str(out)] + (["--embedding"] if suffix != ".csv" else [])
    assert main(argv) == 0
    assert "1 of 3 objects matched by column id=id" in capsys.readouterr().out
    back = Table.read(out)
    assert list(back["id"]) == ["disk_a", "disk_b", "clump c"]
    assert {"x", "y", "cluster", "anomaly", "class", "label", "interesting"} <= set(back.colnames)
    assert str(back["label"][1]) == "smooth ring" and float(back["interesting"][2]) == 1.0
    if suffix != ".csv":
        assert back["ra"].unit == u.deg and back["pixel_scale"].unit == u.arcsec
        assert np.array_equal(np.asarray(back["embedding"]), np.arange(12.0).reshape(3, 4))
    regions = Regions.read(out.with_suffix(".reg"), format="ds9")
    assert len(regions) == 2  # the third object has no sky position
    assert regions[0].center.ra.deg == pytest.approx(269.0886)
    assert regions[0].visual["edgecolor"] != regions[1].visual["edgecolor"]  # clusters 0, 1
    assert regions[0].meta["text"] == "disk_a"


def test_export_refuses_vectors_where_the_format_cannot_hold_them(tmp_path, capsys):
    run = _explored(tmp_path)
    assert main(["export", str(run), "-o", str(tmp_path / "x.csv"), "--embedding"]) == 2
    assert "cannot hold the embedding vectors" in capsys.readouterr().err
    assert main(["export", str(run), "-o", str(tmp_path / "x.parquet")]) == 2
    assert "unknown table format" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


def test_written_files_are_readable_as_the_umask_allows_and_keep_a_replaced_files_mode(
    tmp_path,
):
    import os
    import stat

    from morphospace.files import atomic_write

    old = os.umask(0o022)
    try:
        path = write_selection(RunTable(_table(tmp_path)), tmp_path / "chosen.reg")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not the temporary file's 0600
        os.umask(0o027)
        fresh = tmp_path / "group.txt"
        atomic_write(fresh, lambda temporary: temporary.write_text("x"))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
        path.chmod(0o600)  # a file the user made private stays private when rewritten
        write_selection(RunTable(_table(tmp_path)), path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # lsdb's own use of pandas
def test_a_hats_export_opens_in_lsdb_and_cross_matches_by_position(tmp_path, capsys):
    lsdb = pytest.importorskip("lsdb")
    rng = np.random.default_rng(3)
    n = 60
    ra, dec = rng.uniform(150, 151, n), rng.uniform(2, 3, n)
    ra[[7, 8]] = np.nan  # two objects without a sky position
    rows = pd.DataFrame({"id": [f"obj{i:02d}" for i in range(n)],
                         "path": [f"/data/obj{i:02d}.fits" for i in range(n)],
                         "ra": ra, "dec": dec, "shape": ["1x32x32"] * n})  # fmt: skip
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    table = EmbeddingTable(rows, vectors, {}).write(tmp_path / "embeddings.parquet")
    out = tmp_path / "hats"
    assert main(["export", str(table), "--hats", str(out), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "left out 2 objects without a sky position" in said and str(out) in said
    exported = lsdb.read_hats(out)
    # a survey catalogue: five sources 0.5" from five of the objects, three far from all
    near = [3, 11, 25, 40, 59]
    survey = pd.DataFrame({
        "name": [f"src{k}" for k in near] + ["far1", "far2", "far3"],
        "ra": np.r_[ra[near] + 0.5 / 3600 / np.cos(np.radians(dec[near])), 10, 200, 300],
        "dec": np.r_[dec[near], -40, 60, 0],
    })  # fmt: skip
    pairs = (
        lsdb.from_dataframe(survey, ra_column="ra", dec_column="dec", catalog_name="survey")
        .crossmatch(exported, radius_arcsec=2, n_neighbors=1, suffixes=("", "_ms"),
                    suffix_method="overlapping_columns")
        .compute()
    )  # fmt: skip
    assert sorted(zip(pairs["name"], pairs["id"], strict=True)) == sorted(
        (f"src{k}", f"obj{k:02d}") for k in near
    )
    assert np.allclose(pairs["_dist_arcsec"], 0.5, atol=0.01)
    whole = exported.compute().set_index("id")
    assert len(whole) == n - 2 and "obj07" not in whole.index
    assert np.allclose(np.asarray(whole.loc["obj25", "embedding"]), vectors[25])
    # a folder already there is refused in one line, and left as it is
    assert main(["export", str(table), "--hats", str(out), "--no-progress"]) == 2
    assert "already exists; name a new folder" in capsys.readouterr().err
    assert main(["export", str(table), "--no-progress"]) == 2
    assert "give exactly one of -o TABLE or --hats FOLDER" in capsys.readouterr().err


def test_a_command_needing_a_missing_extra_names_the_extra():
    from morphospace.cluster import needs_extra

    with pytest.raises(InputError, match=r'--hats: needs no_such_module.*"morphospace\[cluster\]"'):
        needs_extra("no_such_module", "--hats")
