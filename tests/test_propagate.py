"""Label propagation: a few labels name every object, and the least certain come next."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from morphospace.cli import main
from morphospace.embed import EmbeddingTable, EmbedOptions
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
    embed_run(run, [str(images)], table_path, options=EmbedOptions(workers=1))
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


def test_marks_rerank_the_anomalies_towards_what_is_interesting():
    from morphospace.explore.anomalies import rerank

    rng = np.random.default_rng(2)
    common = rng.normal(size=(200, 8))
    artefacts = rng.normal(size=(6, 8)) * 0.1 + np.eye(8)[0] * 6  # very unusual, boring
    rare = rng.normal(size=(6, 8)) * 0.1 + np.eye(8)[1] * 6  # unusual and interesting
    points = np.vstack([common, artefacts, rare]).astype(np.float32)
    anomaly = np.concatenate([rng.uniform(0, 0.5, 200), np.full(6, 0.99), np.full(6, 0.9)])
    marks = np.full(len(points), np.nan)
    marks[[200, 201]] = 0.0  # two artefacts: not interesting
    marks[206] = 1.0  # one rare object: interesting
    found = rerank(points, anomaly, marks)
    top = np.argsort(found["anomaly_reranked_rank"].to_numpy())[:6]
    assert set(top) == set(range(206, 212))  # the rare objects, unmarked ones included
    assert found["anomaly_interest"].between(0, 1).all()
    assert (found["anomaly_interest"].to_numpy()[202:206] < 0.5).all()  # unmarked artefacts
    with pytest.raises(ValueError, match="no object is marked"):
        rerank(points, anomaly, np.full(len(points), np.nan))
    with pytest.raises(ValueError, match="must be 1"):
        rerank(points, anomaly, np.where(np.arange(len(points)) == 0, 5.0, np.nan))


def test_cli_anomalies_takes_marks_and_keeps_the_unsupervised_ranks(trained, tmp_path, capsys):
    run, images = trained
    table_path = tmp_path / "emb.parquet"
    embed_run(run, [str(images)], table_path, options=EmbedOptions(workers=1))
    ids = EmbeddingTable.read(table_path).rows["id"].tolist()
    marks = pd.DataFrame({"id": ids[:3], "keep": ["yes", "no", "1"]})
    marks.to_csv(tmp_path / "marks.csv", index=False)
    code = main(
        ["anomalies", str(table_path), "-n", "5", "--marks", f"{tmp_path / 'marks.csv'}:keep"]
    )
    assert code == 0 and "anomaly_reranked_rank" in capsys.readouterr().out
    rows = EmbeddingTable.read(table_path).rows
    assert rows["anomaly_interest"].tolist()[:3] == [1.0, 0.0, 1.0]
    assert sorted(rows["anomaly_reranked_rank"]) == list(range(1, len(rows) + 1))
    marks.assign(keep=["yes", "maybe", "1"]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["anomalies", str(table_path), "--marks", f"{tmp_path / 'bad.csv'}:keep"]) == 2
    assert "'maybe' is not 1/yes or 0/no" in capsys.readouterr().err
