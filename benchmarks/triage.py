"""Triage: how many objects a user must look at to find a rare class, in triage's orders.

A script plays the user of the explorer's triage mode: it looks at one object at a time
and marks it interesting when it is of the rare class, not interesting otherwise. Three
orders are played side by side on the same objects:

- ``reranked``: the anomaly score, re-ranked by the marks every few marks (the default
  triage order, astronomaly's loop; ``morphospace.explore.triage``);
- ``anomaly``: the plain anomaly score;
- ``random``.

Each class in turn is made rare: all its objects but ``--rare`` are left out (drawn at
random, per seed), the anomaly scores are computed on what is left as ``report`` computes
them, and the user looks until every rare object is found. Printed: objects seen to find
the first, half and all of the rare objects, median over the seeds, per class and order,
and the ratio of objects seen against the random order.

    python benchmarks/quality_synthetic.py                         # the standard set's run
    python benchmarks/triage.py                                    # on it
    python benchmarks/triage.py --table .bench/first/run/embeddings.parquet \\
        --labels data/first-dev/labels.csv:class                   # the FIRST development half
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from morphospace.choices import RERANK_EVERY
from morphospace.explore import RunTable, anomaly_scores
from morphospace.explore.triage import next_unseen, triage_order

STANDARD = Path(".bench/quality/standard")
ORDERS = ("reranked", "anomaly", "random")


def play(order: str, embeddings: np.ndarray, anomaly: np.ndarray, rare: np.ndarray, seed: int):
    """Objects seen until the first, half and all of the rare objects were found."""
    n = len(rare)
    seen = np.zeros(n, dtype=bool)
    marks = np.full(n, np.nan)
    ranked = triage_order(order, embeddings, anomaly, seed=seed)
    wanted = int(rare.sum())
    found, steps = 0, {}
    since_rerank = 0
    while found < wanted:
        i = next_unseen(ranked, seen)
        seen[i] = True
        marks[i] = float(rare[i])
        found += int(rare[i])
        count = int(seen.sum())
        for name, goal in (("first", 1), ("half", (wanted + 1) // 2), ("all", wanted)):
            if found >= goal and name not in steps:
                steps[name] = count
        since_rerank += 1
        if order == "reranked" and since_rerank >= RERANK_EVERY:
            since_rerank = 0
            ranked = triage_order(order, embeddings, anomaly, marks=marks)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, default=STANDARD / "run" / "embeddings.parquet")
    parser.add_argument("--labels", default=f"{STANDARD / 'data' / 'labels.csv'}:morphology")
    parser.add_argument("--rare", type=int, default=10, help="objects kept of the rare class")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if not args.table.exists():
        raise SystemExit(f"{args.table}: no such table; see the commands in this script's help")
    source, _, column = args.labels.rpartition(":")
    table = RunTable.open(args.table)
    truth = table.joined_column(source, column).astype(str)
    vectors = table.vectors
    classes = sorted(set(truth) - {"nan"})
    print(
        f"{len(truth)} objects, {len(classes)} classes ({column}); each class in turn cut to "
        f"{args.rare} objects; re-ranked every {RERANK_EVERY} marks; {args.seeds} seeds"
    )
    print(
        f"{'rare class':<14} {'kept':>5}  "
        + "  ".join(f"{o + ' first/half/all':>26}" for o in ORDERS)
    )
    totals: dict[str, list[float]] = {o: [] for o in ORDERS}
    halves: dict[str, list[float]] = {o: [] for o in ORDERS}
    for name in classes:
        results: dict[str, list[dict[str, int]]] = {o: [] for o in ORDERS}
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            members = np.flatnonzero(truth == name)
            others = np.flatnonzero((truth != name) & (truth != "nan"))
            chosen = np.sort(
                np.concatenate([others, rng.choice(members, args.rare, replace=False)])
            )
            x, rare = vectors[chosen], truth[chosen] == name
            anomaly = anomaly_scores(x, seed=seed)["anomaly"].to_numpy()
            for order in ORDERS:
                results[order].append(play(order, x, anomaly, rare, seed))
        cells = []
        for order in ORDERS:
            median = {
                k: statistics.median(r[k] for r in results[order]) for k in ("first", "half", "all")
            }
            totals[order].append(median["all"])
            halves[order].append(median["half"])
            cells.append(f"{median['first']:>8.0f} {median['half']:>8.0f} {median['all']:>8.0f}")
        print(f"{name:<14} {len(chosen):>5}  " + "  ".join(f"{c:>26}" for c in cells))
    for order in ORDERS[:2]:
        half = statistics.mean(h / r for h, r in zip(halves[order], halves["random"], strict=True))
        whole = statistics.mean(a / r for a, r in zip(totals[order], totals["random"], strict=True))
        print(f"{order}: objects seen against random, mean over classes: "
              f"half found {half:.2f}x, all found {whole:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
