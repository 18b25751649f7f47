"""Synthetic data: classes, parameters, WCS, determinism, NaN borders and cubes."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from morphospace.io import read_fits
from morphospace.synth import LABEL_COLUMNS, class_names, synthesize

DISK_CLASSES = {"smooth_disk", "ringed_disk", "spiral_disk", "binary"}
CLOUD_CLASSES = {"filament", "hub_filament", "core", "shell", "clumpy"}


def _labels(root):
    with open(root / "labels.csv") as handle:
        return list(csv.DictReader(handle))


def test_classes_cover_disks_clouds_points_and_cubes():
    assert set(class_names()) == DISK_CLASSES | CLOUD_CLASSES | {"point_source"}
    assert {"cube_rotating_disk", "cube_static_core", "cube_infall_core"} <= set(
        class_names(cubes=True)
    )


def test_labels_hold_class_and_parameters(synth_set):
    rows = _labels(synth_set)
    assert list(rows[0]) == LABEL_COLUMNS
    assert {r["class"] for r in rows} == set(class_names(cubes=True))
    for row in rows:
        assert float(row["noise"]) > 0 and float(row["bmaj"]) >= float(row["bmin"]) > 0
        assert 32 <= int(row["size"]) <= 256
        if row["class"] in DISK_CLASSES - {"binary"} | {"cube_rotating_disk"}:
            assert 0 <= float(row["inclination"]) <= 75 and 0 <= float(row["pa"]) <= 180
        if row["class"] == "ringed_disk":
            assert 0 < float(row["ring_radius"]) <= float(row["radius"])
        if row["class"] == "binary":  # two disks, each with its own inclination
            assert row["inclination"] == "" and 0 <= float(row["primary_inclination"]) <= 75
        if row["class"] != "point_source":
            assert float(row["radius"]) > 0 and float(row["flux"]) > 0


def test_files_carry_a_real_wcs_matching_the_labels(synth_set):
    for row in _labels(synth_set):
        image = read_fits(synth_set / row["path"])
        meta = image.meta
        assert meta.object == row["id"]
        assert meta.pixel_scale == pytest.approx(float(row["pixel_scale"]), rel=1e-6)
        assert meta.beam.major == pytest.approx(float(row["bmaj"]), rel=1e-6)
        assert meta.ra is not None and meta.dec is not None
        assert meta.nan_fraction == pytest.approx(float(row["nan_fraction"]), abs=1e-9)
        if row["kind"] == "cube":
            assert image.is_cube and meta.spectral is not None
            velocities = meta.spectral.velocities()
            assert velocities.mean() == pytest.approx(float(row["v_sys"]), abs=0.01)
            assert len(velocities) == int(row["n_channels"])


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    def digest(root):
        files = [*sorted((root / "images").glob("*.fits")), root / "labels.csv"]
        return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()

    synthesize(tmp_path / "a", 12, seed=3, workers=1)
    synthesize(tmp_path / "b", 12, seed=3, workers=2)
    synthesize(tmp_path / "c", 12, seed=4, workers=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_some_objects_have_nan_borders_and_sizes_vary(tmp_path):
    synthesize(tmp_path, 60, seed=11, workers=1)
    rows = _labels(tmp_path)
    borders = {r["nan_border"] for r in rows}
    assert {"none", "circle", "strip"} <= borders
    sizes = [int(r["size"]) for r in rows]
    assert min(sizes) < 64 and max(sizes) > 128
    scales = [float(r["pixel_scale"]) for r in rows]
    assert max(scales) / min(scales) > 100  # disk-like and cloud-like pixel scales


def test_rotating_disk_cube_has_velocity_gradient(synth_set):
    row = next(r for r in _labels(synth_set) if r["class"] == "cube_rotating_disk")
    image = read_fits(synth_set / row["path"])
    from morphospace.preprocess import moment_maps

    v = image.meta.spectral.velocities()
    m0, m1 = moment_maps(np.nan_to_num(image.data), v, (0, 1))
    bright = m0 > np.percentile(m0, 95)
    spread = np.ptp(m1[bright])
    assert spread > 4 * float(row["channel_width"])  # red and blue sides are separated


def test_hard_family_looks_like_survey_cutouts(tmp_path):
    synthesize(tmp_path, 150, seed=3, hard=True, workers=1)
    with open(tmp_path / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    counts = {}
    for row in rows:
        counts[row["class"]] = counts.get(row["class"], 0) + 1
    assert max(counts.values()) >= 4 * min(c for k, c in counts.items() if k != "blank")
    assert {row["morphology"] for row in rows if row["class"] in ("core", "smooth_disk")} == {
        "smooth"
    }
    fills = [float(row["fill_fraction"]) for row in rows]
    assert max(fills) <= 0.26 and min(int(row["size"]) for row in rows) >= 64
    clipped = [row for row in rows if row["zero_clipped"] == "True"]
    assert 30 <= len(clipped) <= 70
    data = read_fits(tmp_path / clipped[0]["path"]).data
    assert data.min() == 0.0 and (data == 0).mean() > 0.3  # background clipped to exactly 0
    bright = [float(row["core_contrast"]) for row in rows if float(row["core_contrast"]) > 0]
    assert 30 <= len(bright) <= 70 and min(bright) >= 30
    for row in rows:
        if row["class"] == "blank":
            assert not read_fits(tmp_path / row["path"]).data.any()
    ringed = [row for row in rows if row["class"] == "ringed_disk"]
    assert all(0.2 <= float(row["ring_radius_rel"]) <= 1.0 for row in ringed)
    with pytest.raises(ValueError, match="2-D images only"):
        synthesize(tmp_path / "x", 5, hard=True, cubes=True)
