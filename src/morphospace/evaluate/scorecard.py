"""``morphospace evaluate``: one table of figures of merit for a run and its baselines.

    card = evaluate_table("RUN/embeddings.parquet", labels=("labels.csv", "class"),
                          params=("labels.csv", ["radius", "inclination"]),
                          baselines=["pixel_pca", "random"])
    card.write("RUN/evaluation")   # evaluation.json and evaluation.md

Every row (the model, each baseline) is scored on the same objects with the same folds.
Parameters that apply to only some objects (an inclination for disks only) are scored on
the objects that have a value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from morphospace.embed import Embedder
from morphospace.errors import InputError
from morphospace.evaluate import baselines as base
from morphospace.evaluate import metrics
from morphospace.explore import cluster, normalise, project
from morphospace.explore.clusters import kmeans
from morphospace.explore.table import RunTable
from morphospace.files import atomic_write

__all__ = [
    "BASELINES",
    "GAIN_NOISE",
    "INVARIANCE_SAMPLE",
    "MIN_PARAM_OBJECTS",
    "Scorecard",
    "evaluate_table",
    "read_columns",
    "score_embedding",
    "score_invariance",
]

BASELINES = ("pixel_pca", "random", "supervised")
INVARIANCE_SAMPLE = 200
MIN_PARAM_OBJECTS = 10
#: k-NN points within which two trainings of the same settings differ (seeds, one run).
GAIN_NOISE = 1.0


@dataclass
class Scorecard:
    """The figures of every scored embedding, and what they were computed on."""

    table: str
    n_objects: int
    label_column: str | None
    classes: dict[str, int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "morphospace-evaluation/1",
            "table": self.table,
            "n_objects": self.n_objects,
            "label_column": self.label_column,
            "classes": self.classes,
            "rows": self.rows,
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """The rows as a Markdown table, one column per figure, plus the notes."""
        columns = [c for c in _COLUMN_TITLES if any(c in row for row in self.rows)]
        params = sorted({k for row in self.rows for k in row if k.startswith(("r2:", "rho:"))})
        header = [_COLUMN_TITLES[c] for c in columns] + [_param_title(p) for p in params]
        lines = [
            f"# Evaluation of {self.table}",
            "",
            f"{self.n_objects} objects"
            + (f"; labels from column `{self.label_column}`: " if self.label_column else "")
            + ", ".join(f"{name} {count}" for name, count in self.classes.items()),
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        for row in self.rows:
            cells = [_format(row.get(c)) for c in columns + params]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``evaluation.json`` and ``evaluation.md`` (atomically) into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = out_dir / "evaluation.json", out_dir / "evaluation.md"
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        atomic_write(paths[0], lambda temporary: temporary.write_text(text))
        atomic_write(paths[1], lambda temporary: temporary.write_text(self.to_markdown()))
        return paths

    def row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["name"] == name)


_COLUMN_TITLES = {
    "name": "embedding",
    "knn": "k-NN acc.",
    "linear": "linear probe",
    "silhouette_labels": "silhouette (labels)",
    "silhouette_clusters": "silhouette (clusters)",
    "k": "k found",
    "ari": "ARI",
    "nmi": "NMI",
    "ari_k_classes": "ARI (k = classes)",
    "nmi_k_classes": "NMI (k = classes)",
    "invariance": "orientation invariance",
    "cos_same": "cos(copies)",
    "cos_different": "cos(others)",
}


def _param_title(key: str) -> str:
    kind, name = key.split(":", 1)
    return f"R² {name}" if kind == "r2" else f"ρ {name} (map x, y)"


def _format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def score_embedding(
    name: str,
    embeddings: np.ndarray,
    labels: np.ndarray | None,
    params: dict[str, np.ndarray],
    *,
    coordinates: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """All label and parameter figures of one (N, D) embedding."""
    row: dict[str, Any] = {"name": name}
    found = cluster(embeddings, seed=seed)
    row["k"] = found.k
    row["silhouette_clusters"] = metrics.label_silhouette(embeddings, found.kmeans)
    if labels is not None:
        known = pd.notna(labels)
        x, y = embeddings[known], labels[known].astype(str)
        row["knn"] = metrics.knn_accuracy(x, y, seed=seed)
        row["linear"] = metrics.linear_probe_accuracy(x, y, seed=seed)
        row["silhouette_labels"] = metrics.label_silhouette(x, y)
        agreement = metrics.cluster_agreement(found.kmeans[known], y)
        row |= agreement
        # k-means only, on the same unit vectors cluster() uses
        at_classes = kmeans(normalise(x), len(np.unique(y)), seed)
        agreement = metrics.cluster_agreement(at_classes, y)
        row |= {"ari_k_classes": agreement["ari"], "nmi_k_classes": agreement["nmi"]}
    if params:
        xy = coordinates if coordinates is not None else project(embeddings, seed=seed)
        for param, values in params.items():
            known = np.isfinite(values)
            row[f"r2:{param}"] = metrics.ridge_r2(embeddings[known], values[known], seed=seed)
            row[f"rho:{param}"] = list(metrics.axis_spearman(xy[known], values[known]))
    return row


def score_invariance(
    embed: Callable[[Sequence[np.ndarray]], np.ndarray],
    arrays: Sequence[np.ndarray],
    seed: int = 0,
) -> dict[str, float]:
    """Orientation invariance on a seeded sample of at most 200 objects."""
    rng = np.random.default_rng(seed)
    sample = rng.permutation(len(arrays))[:INVARIANCE_SAMPLE]
    result = metrics.orientation_invariance(embed, [arrays[i] for i in sample], seed=seed)
    return {"invariance": result.score, "cos_same": result.same, "cos_different": result.different}


def read_columns(spec: str | None, kind: str) -> tuple[Path, list[str]] | None:
    """Parse ``file.csv:col1,col2`` into the file and its column names."""
    if not spec:
        return None
    path, sep, names = str(spec).rpartition(":")
    if not sep or not path or not names.strip():
        raise InputError(spec, f"write {kind} as FILE.csv:COLUMN[,COLUMN…]")
    return Path(path), [n.strip() for n in names.split(",") if n.strip()]


def evaluate_table(
    table_path: str | Path,
    *,
    labels: tuple[str | Path, str] | None = None,
    params: tuple[str | Path, Sequence[str]] | None = None,
    baselines: Sequence[str] | None = None,
    run_dir: str | Path | None = None,
    invariance: bool = True,
    supervised_epochs: int = 20,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Scorecard:
    """Score the embeddings in ``table_path`` and, optionally, baselines on the same objects.

    Parameters
    ----------
    table_path : path
        An embedding table from ``morphospace embed``.
    labels : (path, column), optional
        A CSV with a class for (some of) the objects, matched by id, name, object or file.
    params : (path, columns), optional
        A CSV with continuous parameters (radius, inclination, flux, …).
    baselines : sequence of {"pixel_pca", "random", "supervised"}, optional
        Baselines to score beside the model; they and the orientation invariance need the
        run's model (``run_dir``, by default the run recorded in the table) and the files.
        By default ``random`` (the untrained network) whenever labels or parameters are
        given, so the gain that training bought is shown; ``()`` scores none.
    supervised_epochs : int
        Training length of the supervised upper bound, per fold; a parameter's network
        draws as many objects as this many epochs over the whole table.
    """
    say = progress or (lambda message: None)
    chosen = baselines is not None
    if baselines is None:
        baselines = ("random",) if labels is not None or params is not None else ()
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise InputError(
            ", ".join(unknown), f"unknown baseline; choose from {', '.join(BASELINES)}"
        )
    if "supervised" in baselines and labels is None and params is None:
        raise InputError("supervised", "the supervised baseline needs --labels or --params")

    table = RunTable.open(table_path)
    y = None
    if labels is not None:
        y = table.joined_column(labels[0], labels[1]).astype(object)
        y = np.where(pd.isna(y), None, y.astype(str))
    values: dict[str, np.ndarray] = {}
    if params is not None:
        for name in params[1]:
            column = pd.to_numeric(
                pd.Series(table.joined_column(params[0], name)), errors="coerce"
            ).to_numpy(float)
            if np.isfinite(column).sum() < MIN_PARAM_OBJECTS:
                raise InputError(params[0], f"column {name!r} has fewer than 10 numeric values")
            values[name] = column
    known = [v for v in (y if y is not None else []) if v is not None]
    classes = dict(sorted(pd.Series(known, dtype=object).value_counts().items()))
    if labels is not None:
        _check_classes(classes, labels)
    card = Scorecard(str(table_path), len(table), labels[1] if labels else None, classes)
    coordinates = None
    if {"x", "y"} <= set(table.columns):
        coordinates = table.rows(columns=["x", "y"]).to_numpy(float)
        card.notes.append("map axes: the x, y columns written by 'morphospace report'")
    say("scoring the embeddings")
    card.rows.append(
        score_embedding("morphospace", table.vectors, y, values, coordinates=coordinates, seed=seed)
    )
    if not (invariance or baselines):
        return card
    try:
        embedder = table.embedder(run_dir)
        say("reading the objects for invariance and baselines")
        arrays = _arrays_for(table, embedder)
    except InputError as error:
        if chosen or invariance:
            raise
        # the untrained row is a default, not a request: without the run, leave it out
        card.notes.append(f"untrained network not scored: {error}")
        return card
    if invariance:
        say("orientation invariance")
        card.rows[0] |= score_invariance(embedder.transform, arrays, seed)
    for name in baselines:
        say(f"baseline: {name}")
        if name == "pixel_pca":
            vectors = base.pixel_pca(embedder, arrays, seed=seed)
            card.rows.append(score_embedding("raw-pixel PCA", vectors, y, values, seed=seed))
        elif name == "random":
            random = base.random_network(embedder, arrays, seed)
            vectors = random.transform(arrays)
            row = score_embedding("random init", vectors, y, values, seed=seed)
            if invariance:
                row |= score_invariance(random.transform, arrays, seed)
            card.rows.append(row)
        else:
            card.rows.append(_supervised_row(embedder, arrays, y, values, supervised_epochs, seed))
    card.notes += _baseline_notes(baselines, embedder, supervised_epochs)
    card.notes += _training_gain(card.rows)
    return card


def _training_gain(rows: list[dict[str, Any]]) -> list[str]:
    """One line: what training added to the k-NN accuracy over the untrained network."""
    trained, untrained = rows[0], next((r for r in rows if r["name"] == "random init"), None)
    if untrained is None or "knn" not in trained:
        return []
    gain = 100 * (trained["knn"] - untrained["knn"])
    if gain >= GAIN_NOISE:
        verdict = "training paid"
    elif gain > -GAIN_NOISE:
        verdict = "within the run-to-run spread: training bought little on these objects"
    else:
        verdict = "the untrained network does better: training lost information"
    return [
        f"training gain: k-NN accuracy {trained['knn']:.3f} trained against "
        f"{untrained['knn']:.3f} untrained ({gain:+.1f} points): {verdict}"
    ]


def _check_classes(classes: dict[str, int], labels: tuple[str | Path, str]) -> None:
    """Classifier figures need two classes or more, each with two objects or more."""
    if len(classes) < 2:
        raise InputError(labels[0], f"column {labels[1]!r} gives fewer than two classes")
    single = [name for name, count in classes.items() if count < 2]
    if single:
        raise InputError(
            labels[0], f"class {single[0]!r} has one embedded object; each needs at least two"
        )


def _arrays_for(table: RunTable, embedder: Embedder) -> list[np.ndarray]:
    """The table's objects, read and preprocessed with the run's chain (cache shared)."""
    paths = table.column("path").astype(str).tolist()
    cache = Path(embedder.run) / "cache" if embedder.run else None
    objects = embedder.load(paths, on_error="fail", cache_dir=cache)
    by_path = {meta.path: array for meta, array in zip(objects.metas, objects.arrays, strict=True)}
    missing = [p for p in paths if p not in by_path]
    if missing:
        raise InputError(missing[0], "is in the table but could not be read again")
    return [by_path[p] for p in paths]


def _supervised_row(
    embedder: Embedder,
    arrays: list[np.ndarray],
    y: np.ndarray | None,
    values: dict[str, np.ndarray],
    epochs: int,
    seed: int,
) -> dict[str, Any]:
    """The same backbone trained on each training fold's labels (k-NN, linear probe) and,
    for each parameter, on the parameter itself (the R² of a ridge read-out, as for the
    model). A parameter's training draws as many objects as ``epochs`` over the table."""
    row: dict[str, Any] = {"name": "supervised"}
    if y is not None:
        known = np.flatnonzero(pd.notna(y))
        labels = y[known].astype(str)
        correct_knn = correct_linear = 0
        for train, test in metrics.folds(labels, seed=seed):
            train_arrays = [arrays[known[i]] for i in train]
            model = base.train_supervised(embedder, train_arrays, labels[train], epochs, seed=seed)
            features = model.transform([arrays[i] for i in known])
            predicted = metrics.knn_predict(features[train], labels[train], features[test])
            correct_knn += int((predicted == labels[test]).sum())
            probe = metrics.fit_linear_probe(features[train], labels[train])
            correct_linear += int((probe.predict(features[test]) == labels[test]).sum())
        row |= {"knn": correct_knn / len(known), "linear": correct_linear / len(known)}
    for name, column in values.items():
        known = np.flatnonzero(np.isfinite(column))
        targets = column[known]
        param_epochs = max(epochs, round(epochs * len(arrays) / len(known)))
        predicted = np.empty_like(targets)
        for train, test in metrics.regression_folds(len(known), seed=seed):
            train_arrays = [arrays[known[i]] for i in train]
            model = base.train_supervised(
                embedder, train_arrays, targets[train], param_epochs, seed=seed
            )
            features = model.transform([arrays[i] for i in known])
            predicted[test] = metrics.ridge_predict(features[train], targets[train], features[test])
        row[f"r2:{name}"] = float(r2_score(targets, predicted))
    return row


def _baseline_notes(baselines: Sequence[str], embedder: Embedder, epochs: int) -> list[str]:
    notes = []
    framing = f"framed as the model sees them ({embedder.view_size} px)"
    if "pixel_pca" in baselines:
        notes.append(f"raw-pixel PCA: 64 whitened principal components of the pixels, {framing}")
    if "random" in baselines:
        notes.append("random init: the same architecture, TTA and whitening, untrained")
    if "supervised" in baselines:
        notes.append(
            f"supervised: the same backbone trained for {epochs} epochs on each training "
            "fold, on the labels for k-NN and linear probe and on each parameter itself "
            "(as many object draws) for its R², scored on the held-out fold (the upper bound)"
        )
    return notes
