"""Figures of merit on constructed embeddings with known answers, and `morphospace evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from morphospace.cli import main
from morphospace.embed import EmbedOptions
from morphospace.evaluate import (
    cluster_agreement,
    evaluate_table,
    knn_accuracy,
    label_silhouette,
    linear_probe_accuracy,
    orientation_invariance,
    ridge_r2,
)
from morphospace.evaluate.metrics import axis_spearman, folds
from morphospace.pipeline import embed_run


def separated(n_per_class: int = 40, classes: int = 5, dim: int = 16, seed: int = 0):
    """Tight clusters around orthogonal directions: every figure should be perfect."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:classes] * 10
    labels = np.repeat(np.arange(classes), n_per_class)
    return centres[labels] + rng.normal(0, 0.1, (len(labels), dim)), labels.astype(str)


def test_separated_clusters_score_perfectly():
    x, y = separated()
    assert knn_accuracy(x, y) == 1.0
    assert linear_probe_accuracy(x, y) == 1.0
    assert label_silhouette(x, y) > 0.9
    assert cluster_agreement(y, y) == {"ari": 1.0, "nmi": 1.0}


def test_random_vectors_score_at_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 32))
    y = rng.integers(0, 4, 600).astype(str)
    assert abs(knn_accuracy(x, y) - 0.25) < 0.07
    assert abs(linear_probe_accuracy(x, y) - 0.25) < 0.07
    assert abs(label_silhouette(x, y)) < 0.05
    shuffled = cluster_agreement(rng.integers(0, 4, 600), y)
    assert abs(shuffled["ari"]) < 0.02 and shuffled["nmi"] < 0.02


def test_ridge_recovers_a_linear_parameter_and_not_noise():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 20))
    parameter = x @ rng.normal(size=20) + rng.normal(0, 0.1, 300)
    assert ridge_r2(x, parameter) > 0.95
    assert ridge_r2(x, rng.normal(size=300)) < 0.05
    # a dead unit (constant but for rounding, one stray object) must not wreck the fit
    dead = rng.normal(0, 1e-7, (300, 1))
    dead[7] = 1e-2
    assert ridge_r2(np.c_[x, dead], parameter) > 0.95
    rho_x, rho_y = axis_spearman(np.c_[parameter**3, rng.normal(size=300)], parameter)
    assert rho_x == pytest.approx(1.0) and abs(rho_y) < 0.2


def test_folds_are_stratified_and_refuse_singletons():
    y = np.array(["a"] * 12 + ["b"] * 3)
    splits = folds(y)
    assert len(splits) == 3  # the smallest class has three members
    for _, test in splits:
        assert (y[test] == "b").sum() == 1
    with pytest.raises(ValueError, match="'c' has one member"):
        folds(np.append(y, "c"))


def test_orientation_invariance_separates_invariant_from_raw_pixels():
    rng = np.random.default_rng(3)
    arrays = [
        ndimage.gaussian_filter(rng.random((1, 32, 32)), (0, 2, 2)).astype(np.float32)
        for _ in range(30)
    ]
    arrays = [a * np.linspace(0.2, 2.0, 32)[None, :, None] for a in arrays]  # not symmetric

    def radial_profile(group):  # rotation and flip invariant by construction
        yy, xx = np.mgrid[:32, :32]
        radius = np.hypot(yy - 15.5, xx - 15.5).astype(int)
        return np.stack([ndimage.mean(a[0], radius, np.arange(16)) for a in group])

    def raw_pixels(group):
        return np.stack([a.ravel() for a in group])

    invariant = orientation_invariance(radial_profile, arrays)
    raw = orientation_invariance(raw_pixels, arrays)
    assert invariant.score > 0.8
    assert raw.score < invariant.score - 0.3
    assert abs(invariant.different) < 0.1  # centred: other objects are unrelated


def test_evaluate_with_baselines_writes_json_and_markdown(trained, tmp_path, capsys):
    run, images = trained
    table = embed_run(
        run, [str(images)], tmp_path / "emb.parquet", options=EmbedOptions(workers=1)
    ).path
    labels = images.parent / "labels.csv"
    card = evaluate_table(
        table,
        labels=(labels, "family"),
        params=(labels, ["radius", "peak_snr"]),
        baselines=["pixel_pca", "random", "supervised"],
        supervised_epochs=1,
    )
    names = [row["name"] for row in card.rows]
    assert names == ["morphospace", "raw-pixel PCA", "random init", "supervised"]
    supervised = card.row("supervised")
    assert 0 <= supervised["knn"] <= 1 and np.isfinite(supervised["r2:radius"])
    model = card.row("morphospace")
    for key in ("knn", "linear", "silhouette_labels", "ari", "nmi", "invariance", "r2:radius"):
        assert np.isfinite(model[key]), key
    assert 0 <= model["knn"] <= 1 and len(model["rho:peak_snr"]) == 2
    assert model["cos_same"] > model["cos_different"] + 0.3  # copies alike, others not
    json_path, md_path = card.write(tmp_path / "evaluation")
    assert json.loads(json_path.read_text())["rows"][1]["name"] == "raw-pixel PCA"
    text = md_path.read_text()
    assert "| embedding | k-NN acc." in text and "R² radius" in text and "supervised" in text


def test_cli_evaluate_and_its_errors(trained, tmp_path, capsys):
    run, images = trained
    table = embed_run(
        run, [str(images)], tmp_path / "emb.parquet", options=EmbedOptions(workers=1)
    ).path
    labels = images.parent / "labels.csv"
    out = tmp_path / "ev"
    code = main(
        ["evaluate", str(table), "--labels", f"{labels}:class", "--baselines", "pixel_pca",
         "--no-invariance", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    assert "raw-pixel PCA" in capsys.readouterr().out
    assert (out / "evaluation.json").exists()
    before = (out / "evaluation.json").read_bytes()
    for bad, message in (
        (["--labels", f"{labels}:colour"], "no column 'colour'"),
        (["--labels", str(labels)], "FILE.csv:COLUMN"),
        (["--baselines", "resnet"], "unknown baseline"),
        (["--labels", f"{labels}:kind"], "fewer than two classes"),
    ):
        assert main(["evaluate", str(table), "-o", str(out), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("morphospace: error:") and message in err and "\n" not in err
    assert (out / "evaluation.json").read_bytes() == before  # nothing lost on bad input


def test_evaluate_with_labels_puts_the_untrained_network_beside_the_trained_one(
    trained, tmp_path, capsys
):
    run, images = trained
    table = embed_run(
        run, [str(images)], tmp_path / "emb.parquet", options=EmbedOptions(workers=1)
    ).path
    labels = images.parent / "labels.csv"
    args = ["evaluate", str(table), "--labels", f"{labels}:class", "--no-invariance"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    shown = capsys.readouterr().out
    assert "| random init |" in shown and "training gain: k-NN accuracy" in shown
    assert main([*args, "--baselines", "none", "-o", str(tmp_path / "b")]) == 0
    shown = capsys.readouterr().out
    assert "random init" not in shown and "training gain" not in shown
    assert main(["evaluate", str(table), "--no-invariance", "-o", str(tmp_path / "c")]) == 0
    assert "random init" not in capsys.readouterr().out  # no labels: nothing to compare


def test_supervised_regression_learns_a_parameter_the_images_show(trained):
    """The supervised bound for R²: a network trained on a continuous parameter (here the
    axis ratio of elliptical blobs, which crops, rotations and flips keep) shows it better
    than the same network untrained, through the same ridge read-out."""
    from sklearn.metrics import r2_score

    from morphospace.embed import Embedder
    from morphospace.evaluate.baselines import random_network, train_supervised
    from morphospace.evaluate.metrics import regression_folds, ridge_predict

    run, _ = trained
    embedder = Embedder.from_run(run, tta=True)
    rng = np.random.default_rng(3)
    ratios = rng.uniform(0.25, 1.0, 160)
    yy, xx = np.mgrid[-20:20, -20:20] + 0.5
    arrays = []
    for ratio in ratios:
        angle = rng.uniform(0, np.pi)
        along = xx * np.cos(angle) + yy * np.sin(angle)
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        blob = np.exp(-0.5 * ((along / 9) ** 2 + (across / (9 * ratio)) ** 2))
        arrays.append((blob + 0.02 * rng.normal(size=blob.shape))[None].astype(np.float32))
    trained_on_it, untrained = np.empty_like(ratios), np.empty_like(ratios)
    for train, test in regression_folds(len(ratios), n_folds=4):
        train_arrays = [arrays[i] for i in train]
        for model, predicted in (
            (train_supervised(embedder, train_arrays, ratios[train], epochs=40), trained_on_it),
            (random_network(embedder, train_arrays), untrained),
        ):
            features = model.transform(arrays)
            predicted[test] = ridge_predict(features[train], ratios[train], features[test])
    assert r2_score(ratios, trained_on_it) > max(0.7, r2_score(ratios, untrained) + 0.03)


def test_supervised_baseline_with_parameters_alone(trained, tmp_path):
    run, images = trained
    table = embed_run(
        run, [str(images)], tmp_path / "emb.parquet", options=EmbedOptions(workers=1)
    ).path
    labels = images.parent / "labels.csv"
    card = evaluate_table(
        table,
        params=(labels, ["radius"]),
        baselines=["supervised"],
        invariance=False,
        supervised_epochs=1,
    )
    supervised = card.row("supervised")
    assert "knn" not in supervised and np.isfinite(supervised["r2:radius"])
    assert "| supervised" in card.to_markdown()
