"""How the evaluation's read-outs grow with the number of labelled objects they learn from.

    python benchmarks/readout_learning_curve.py EMB.parquet LABELS.csv \\
        [--label morphology] [--params inclination,ring_radius_rel]

k-NN accuracy and the ridge R² of ``morphospace evaluate`` are cross-validated: each fold
learns from the other folds' objects. Here each fold's training objects are subsampled to
40-100 % of their number, and the held-out objects are scored exactly as ``evaluate`` does
(:func:`knn_predict`, :func:`ridge_predict`), over several fold seeds. Where the figure still
rises at 100 %, it is limited by how many labelled objects the set has, not only by the
embedding.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from morphospace.evaluate.metrics import folds, knn_predict, regression_folds, ridge_predict
from morphospace.explore import RunTable

FRACTIONS = (0.4, 0.6, 0.8, 1.0)


def fmt(score: float) -> str:
    return f"{score:.3f}"


def knn_curve(embeddings: np.ndarray, labels: np.ndarray, repeats: int) -> list[float]:
    scores = []
    for fraction in FRACTIONS:
        correct = 0
        for seed in range(repeats):
            rng = np.random.default_rng(seed)
            for train, test in folds(labels, 5, seed):
                train = rng.permutation(train)[: round(len(train) * fraction)]
                predicted = knn_predict(embeddings[train], labels[train], embeddings[test])
                correct += int((predicted == labels[test]).sum())
        scores.append(correct / (repeats * len(labels)))
    return scores


def ridge_curve(embeddings: np.ndarray, values: np.ndarray, repeats: int) -> list[float]:
    scores = []
    for fraction in FRACTIONS:
        r2 = []
        for seed in range(repeats):
            rng = np.random.default_rng(seed)
            predicted = np.empty_like(values)
            for train, test in regression_folds(len(values), 5, seed):
                train = rng.permutation(train)[: round(len(train) * fraction)]
                predicted[test] = ridge_predict(embeddings[train], values[train], embeddings[test])
            r2.append(r2_score(values, predicted))
        scores.append(float(np.mean(r2)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("embeddings", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--label", default="morphology")
    parser.add_argument("--params", default="inclination,ring_radius_rel")
    parser.add_argument("--repeats", type=int, default=5, help="fold seeds per fraction")
    args = parser.parse_args()

    table = RunTable.open(args.embeddings)
    embeddings = table.vectors
    rows = [("objects per training fold", *(f"{f:.0%}" for f in FRACTIONS))]
    labels = table.joined_column(args.labels, args.label)
    known = ~np.asarray(pd.isna(labels))
    n_train = round(known.sum() * 0.8)
    curve = knn_curve(embeddings[known], labels[known].astype(str), args.repeats)
    rows.append((f"k-NN accuracy, {args.label} ({n_train} objects at 100 %)", *map(fmt, curve)))
    for param in filter(None, args.params.split(",")):
        values = table.joined_column(args.labels, param).astype(float)
        known = np.isfinite(values)
        n_train = round(known.sum() * 0.8)
        curve = ridge_curve(embeddings[known], values[known], args.repeats)
        rows.append((f"R² {param} ({n_train} objects at 100 %)", *map(fmt, curve)))
    width = max(len(row[0]) for row in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  " + "  ".join(f"{cell:>6}" for cell in row[1:]))


if __name__ == "__main__":
    main()
