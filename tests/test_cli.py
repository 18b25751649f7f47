"""The command line: synth then inspect, as the README's main command runs them."""

from __future__ import annotations

import csv

from morphospace.cli import main


def test_synth_then_inspect(tmp_path, capsys):
    assert main(["synth", "-o", str(tmp_path / "data"), "-n", "26", "--cubes", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "wrote 26 objects (13 classes)" in out
    table = tmp_path / "inventory.csv"
    assert main(["inspect", str(tmp_path / "data" / "images"), "--table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "26 files: 26 objects readable, 0 with problems" in out
    assert "cubes" in out and "pixel scale" in out and "beam FWHM" in out and "NaN fraction" in out
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 26 and {"pixel_scale", "bmaj", "nan_fraction", "shape"} <= set(rows[0])


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "morphospace" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "synth" in out and "inspect" in out and "cutouts" in out


def test_usage_errors_exit_2(capsys):
    assert main(["synth", "-o", "x", "-n", "0"]) == 2
    assert main(["inspect", "--on-error", "maybe", "x"]) == 2
