"""Nothing lost and nothing left behind: failed starts, folders in use, repeated commands."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table

from conftest import celestial_header
from morphospace.cli import main


def test_a_failed_start_writes_nothing_into_the_run_folder(trained, tmp_path, capsys):
    _, images = trained
    out = tmp_path / "run"
    settings = tmp_path / "bad.toml"
    settings.write_text("[train]\nepochs = 'many'\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in (
        ["train", str(images), "-o", str(out), "--backbone", "foo"],
        ["train", str(images), "-o", str(out), "-c", str(settings)],
        ["train", str(empty), "-o", str(out)],
        ["run", str(images), "-o", str(out), "--backbone", "resnet18:layer9"],
    ):
        assert main(argv) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        assert not out.exists()


def test_a_failed_start_in_an_existing_run_leaves_it_as_it_was(trained, tmp_path):
    _, images = trained
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", str(images), "-o", str(out), "--backbone", "foo"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_cutouts_never_mix_with_files_already_in_the_folder(tmp_path, capsys):
    data = np.random.default_rng(0).normal(size=(120, 120)).astype(np.float32)
    map_path = tmp_path / "map.fits"
    fits.PrimaryHDU(data, celestial_header(data.shape)).writeto(map_path)
    catalogue = tmp_path / "sources.csv"
    Table({"name": [f"s{i}" for i in range(4)], "x": [30, 60, 90, 60], "y": [60] * 3 + [30]}).write(
        catalogue
    )
    out = tmp_path / "cutouts"
    argv = ["cutouts", str(map_path), "--catalog", str(catalogue), "--size", "20", "-o", str(out)]
    assert main(argv) == 0
    Table({"name": ["t0", "t1"], "x": [40, 80], "y": [40, 80]}).write(catalogue, overwrite=True)
    before = sorted(p.name for p in out.iterdir())
    assert main(argv) == 2
    assert "already holds 5 files" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    assert main([*argv, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cutouts.csv", "t0.fits", "t1.fits"]
