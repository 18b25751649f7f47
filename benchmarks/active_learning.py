"""Labels chosen by the active-learning loop against the same number chosen at random.

A script plays the user: it starts from one labelled object per class, then answers with
the true class each time it is asked, until it has given 5 labels per class. The active
loop asks about the objects ``propagate`` is least sure of (``COLUMN_next`` of
``morphospace label``), a batch of one per class at a time; the baseline labels objects
drawn at random. Both are scored by the accuracy of the propagated class on every object
they did not label, over several seeds.

    python benchmarks/quality_synthetic.py             # once: the standard set and its run
    python benchmarks/active_learning.py [--table T] [--labels L:COLUMN] [--seeds 10]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from morphospace.explore import RunTable
from morphospace.explore.propagate import propagate

STANDARD = Path(".bench/quality/standard")


def accuracy(embeddings: np.ndarray, truth: np.ndarray, asked: list[int]) -> float:
    labels = np.full(len(truth), None, dtype=object)
    labels[asked] = truth[asked]
    predicted = propagate(embeddings, labels, suggest=0).predicted
    unlabelled = labels == None  # noqa: E711
    return float((predicted[unlabelled] == truth[unlabelled]).mean())


def play(
    embeddings: np.ndarray, truth: np.ndarray, per_class: int, seed: int, active: bool
) -> float:
    """The propagated accuracy after ``per_class`` labels per class on average."""
    rng = np.random.default_rng(seed)
    classes = np.unique(truth)
    asked = [int(rng.choice(np.flatnonzero(truth == c))) for c in classes]
    budget = per_class * len(classes)
    while len(asked) < budget:
        batch = min(len(classes), budget - len(asked))
        if active:
            labels = np.full(len(truth), None, dtype=object)
            labels[asked] = truth[asked]
            found = propagate(embeddings, labels, suggest=batch, seed=seed)
            asked += [int(i) for i in found.suggested]
        else:
            unasked = np.setdiff1d(np.arange(len(truth)), asked)
            asked += [int(i) for i in rng.choice(unasked, batch, replace=False)]
    return accuracy(embeddings, truth, asked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, default=STANDARD / "run" / "embeddings.parquet")
    parser.add_argument("--labels", default=f"{STANDARD / 'data' / 'labels.csv'}:morphology")
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    if not args.table.exists():
        raise SystemExit(f"{args.table}: no such table; run benchmarks/quality_synthetic.py first")
    source, _, column = args.labels.rpartition(":")
    table = RunTable.open(args.table)
    truth = table.joined_column(source, column).astype(str).astype(object)
    n_classes = len(np.unique(truth))
    print(f"{len(truth)} objects, {n_classes} classes ({column}); "
          f"{args.per_class} labels per class = {args.per_class * n_classes} labels, "
          f"{args.seeds} seeds")  # fmt: skip
    results = {}
    for name, active in (("active learning", True), ("random", False)):
        scores = [play(table.vectors, truth, args.per_class, s, active) for s in range(args.seeds)]
        results[name] = scores
        spread = f"min {min(scores):.3f}, max {max(scores):.3f}"
        print(f"{name:<16} propagated accuracy {statistics.mean(scores):.3f} "
              f"± {statistics.stdev(scores):.3f} ({spread})")  # fmt: skip
    gains = [a - r for a, r in zip(results["active learning"], results["random"], strict=True)]
    wins = sum(g > 0 for g in gains)
    print(f"active - random: {100 * statistics.mean(gains):+.1f} points "
          f"(active ahead in {wins} of {args.seeds} seeds)")  # fmt: skip
    everyone = pd.Series(truth).value_counts()
    print(f"for reference, chance (the largest class): {everyone.iloc[0] / len(truth):.3f}")


if __name__ == "__main__":
    main()
