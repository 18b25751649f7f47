"""Label propagation: a few labels name every object, and the least certain come next."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from morphospace.cli import main
from morphospace.embed import EmbeddingTable
from morphospace.explore.propagate import propagate
from morphospace.pipeline import embed_run


def _three_groups(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16)) * 3.0
    truth = np.repeat(np.array(["core", "ring", "shell"], dtype=object), n // 3)
    points = centres[np.repeat(np.arange(3), n // 3)] + rng.normal(size=(n, 16)) * 0.5
    return points.astype(np.float32), truth


@pytest.mark.parametrize("method", ["auto", "logistic", "knn"])
def test_two_labels_per_class_name_every_object(method):
    points, truth = _three_groups()
    labels = np.full(len(truth), None, dtype=object)
    for name in ("core", "ring", "shell"):
        labels[np.flatnonzero(truth == name)[:2]] = name
    found = propagate(points, labels, method=method, suggest=5)
    unlabelled = labels == None  # noqa: E711
    assert (found.predicted[unlabelled] == truth[unlabelled]).mean() > 0.95
    assert (found.predicted[~unlabelled] == truth[~unlabelled]).all()
    assert found.classes == ["core", "ring", "shell"]
    assert np.allclose(found.probabilities.sum(axis=1), 1.0)
    assert found.accuracy is not None and found.method in ("logistic", "knn")


def test_the_least_certain_unlabelled_objects_are_suggested_first():
    points, truth = _three_groups()
    between = (points[truth == "core"].mean(axis=0) + points[truth == "ring"].mean(axis=0)) / 2
    points = np.vstack([points, between])
    labels = np.array([*[None] * len(truth), None], dtype=object)
    for name in ("core", "ring", "shell"):
        labels[np.flatnonzero(truth == name)[:3]] = name
    found = propagate(points, labels, method="logistic", suggest=10)
    assert found.suggested[0] == len(points) - 1  # the object between two groups
    assert all(labels[i] is None for i in found.suggested)
    assert np.all(np.diff(found.probability[found.suggested]) >= 0)
    columns = found.columns("kind")
    assert columns["kind_next"][len(points) - 1] == 1
    assert np.isnan(columns["kind_next"]).sum() == len(points) - 10


def test_one_class_or_an_unknown_method_is_refused():
    points, _ = _three_groups()
    with pytest.raises(ValueError, match="at least two classes"):
        propagate(points, ["core", *[""] * (len(points) - 1)])
    with pytest.raises(ValueError, match="unknown method"):
        propagate(points, ["core", "ring", *[None] * (len(points) - 2)], method="svm")


def test_cli_label_writes_predictions_and_suggestions_into_the_table(trained, tmp_path, capsys):
    run, images = trained
    table_path = tmp_path / "emb.parquet"
    embed_run(run, [str(images)], table_path, workers=1)
    truth = pd.read_csv(images.parent / "labels.csv")
    mine = truth[["id", "class"]].copy()
    keep = mine.groupby("class").head(2).index
    mine.loc[~mine.index.isin(keep), "class"] = None
    mine.to_csv(tmp_path / "mine.csv", index=False)
    code = main(["label", str(table_path), "--labels", f"{tmp_path / 'mine.csv'}:class"])
    out = capsys.readouterr().out
    assert code == 0 and "propagated 'class' from" in out and "label these" in out
    rows = EmbeddingTable.read(table_path).rows
    assert rows["class_predicted"].notna().all()
    assert rows["class_probability"].between(0, 1).all()
    ranked = rows.dropna(subset=["class_next"]).sort_values("class_next")
    assert ranked["class_next"].tolist() == list(range(1, len(ranked) + 1))
    assert not ranked["id"].isin(mine.loc[keep, "id"]).any()  # only unlabelled objects
    assert (tmp_path / "label_next_class.png").exists()
    before = table_path.read_bytes()
    assert main(["label", str(table_path), "--labels", f"{tmp_path / 'mine.csv'}:kind"]) == 2
    error = capsys.readouterr().err
    assert "no column 'kind'" in error and error.count("\n") == 1
    assert table_path.read_bytes() == before  # a bad request leaves the table as it was
