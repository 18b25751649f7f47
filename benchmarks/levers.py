"""Levers on what training learns, each against the untrained network, over several seeds.

For every lever and seed, one training run (``benchmarks/learning_curve.py``'s
measurement: the pipeline's framing, test-time averaging and whitening, 5-fold cosine
10-NN) scores the untrained network and the trained one side by side. Levers that cost
more per epoch train fewer epochs, so that every lever spends about the same CPU time as
the default's ``--epochs``. Prints mean and spread over the seeds, and the gain of
training over the untrained network of the same architecture.

Run: ``python benchmarks/levers.py --data data/first-dev --label-column class --epochs 60
--seeds 0,1,2 --only default,multi_crop,c4 --work .bench/levers``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from learning_curve import SIGNALS, learning_curve  # benchmarks/learning_curve.py

#: name -> (what changes, settings, cost of an epoch relative to the default's, measured)
LEVERS: dict[str, tuple[str, dict[str, Any], float]] = {
    "default": ("the defaults", {}, 1.0),
    "neighbours": (
        "nearest-neighbour targets from a queue of 512 (NNCLR/MSF)",
        {"model.neighbour_queue": 512},
        1.0,
    ),
    "multi_crop": (
        "multi-crop: 4 local views of 16 px over 5-25 % of the object",
        {"augment.local_views": 4},
        1.6,
    ),
    "whole_views": (
        "views over 80-100 % of the object, not 25-100 % (where the emission peaks survives)",
        {"augment.crop_scale": [0.8, 1.0]},
        1.0,
    ),
    "whole_views_fixed_stretch": (
        "views over 80-100 % of the object and no stretch jitter",
        {"augment.crop_scale": [0.8, 1.0], "augment.stretch": 0.0},
        1.0,
    ),
    "inscribed_rotation": (
        "rotated views cropped inside the object, not filled by reflection at the edges",
        {"augment.rotation_edges": "inscribed"},
        1.0,
    ),
    "quarter_turns_only": (
        "no rotation by any angle (flips only; test-time averaging covers quarter turns)",
        {"augment.rotate": False},
        1.0,
    ),
    "quarter_turns_multi_crop": (
        "quarter turns only, and multi-crop (the two best above, together)",
        {"augment.rotate": False, "augment.local_views": 4},
        1.6,
    ),
    "c4": (
        "rotation-equivariant backbone (c4resnet18:layer2)",
        {"model.backbone": "c4resnet18:layer2"},
        1.4,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="images/ and labels.csv")
    parser.add_argument("--label-column", default="class")
    parser.add_argument("--epochs", type=int, default=60, help="the default's schedule")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default=None, help="comma-separated lever names")
    parser.add_argument("--work", type=Path, default=Path(".bench/levers"))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(LEVERS)
    seeds = [int(s) for s in args.seeds.split(",")]

    rows = []
    for name in chosen:
        change, sets, cost = LEVERS[name]
        epochs = max(1, round(args.epochs / cost))
        for seed in seeds:
            work = args.work / f"{name}-seed{seed}"
            if (work / "curve.csv").exists():
                curve = pd.read_csv(work / "curve.csv")
            else:
                curve = learning_curve(
                    args.data, args.label_column, epochs, [0, epochs], sets, seed=seed, work=work
                )
                curve.to_csv(work / "curve.csv", index=False)
            online = curve[curve["network"] == "online"].set_index("epoch")
            target = curve[curve["network"] == "target"].set_index("epoch")
            rows.append({
                "lever": name, "change": change, "seed": seed, "epochs": epochs,
                "minutes": float(online.loc[epochs, "minutes"]),
                "untrained": float(online.loc[0, "knn"]),
                "online": float(online.loc[epochs, "knn"]),
                "target": float(target.loc[epochs, "knn"]),
                **{signal: float(online.loc[epochs, signal]) for signal in SIGNALS},
            })  # fmt: skip
            print(f"{name} seed {seed}: {rows[-1]}", flush=True)

    table = pd.DataFrame(rows)
    print(f"\n{args.data}: 5-fold cosine 10-NN, seeds {args.seeds}, mean ± spread (std)\n")
    header = ["lever", "change", "epochs", "train min", "untrained", "trained (online)",
              "trained (target)", "gain over untrained, points"]  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, group in table.groupby("lever", sort=False):
        gain = 100 * (group["online"] - group["untrained"])
        cells = [name, group["change"].iloc[0], str(group["epochs"].iloc[0]),
                 f"{group['minutes'].mean():.1f}", spread(group["untrained"]),
                 spread(group["online"]), spread(group["target"]),
                 spread(gain, "+.1f")]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print("\nAcross the trained runs, Spearman's rho of each label-free signal with the 10-NN:")
    print(", ".join(f"{s} {spearmanr(table[s], table['online']).statistic:+.2f}" for s in SIGNALS))
    gains = table["online"] - table["untrained"]
    print("and with the gain over the untrained network: " + ", ".join(
        f"{s} {spearmanr(table[s], gains).statistic:+.2f}" for s in SIGNALS))  # fmt: skip


def spread(values: pd.Series, form: str = ".3f") -> str:
    """Mean ± standard deviation over the seeds."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{values.mean():{form}} ± {std:{form.lstrip('+')}}"


if __name__ == "__main__":
    main()
