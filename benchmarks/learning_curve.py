"""Learning curves: what BYOL training changes in the representation, epoch by epoch.

One training run on a labelled set, stopped at a few epochs along its schedule (the same
schedule throughout: ``--epochs`` is its length). At each stop, for the online network
and for the EMA target network, behind the pipeline's framing, test-time averaging and
whitening:

- the 5-fold cosine 10-NN accuracy on the labels (whitened, as users get it);
- label-free signals (:mod:`morphospace.models.signals`): the effective rank (RankMe) of
  the unwhitened representation, the alignment of two augmented views and the uniformity
  of one, and how far the weights have moved from their initial values.

Epoch 0 is the untrained network. ``--supervised`` adds, as the bound, the same backbone
trained with the labels (``benchmarks/supervised_bound.py``, first fold) and its signals.
Writes ``curve.csv`` and ``curve.png`` into ``--work`` and prints how each signal tracks
the 10-NN accuracy (Spearman's rho over the stops).

Run: ``python benchmarks/learning_curve.py --data data/first-dev --label-column class
--epochs 60 --stops 0,2,5,10,20,30,45,60 --supervised --work .bench/curve-first``.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from morphospace.augment import Augmenter, AugmentSettings, standardise
from morphospace.byol import BYOL, Whitening
from morphospace.config import Settings, load_settings, parse_assignments
from morphospace.evaluate.metrics import folds, knn_accuracy
from morphospace.io import object_id
from morphospace.models.inference import dihedral
from morphospace.models.signals import alignment, effective_rank, uniformity, weight_distance
from morphospace.train import Trainer
from morphospace.train.checkpoint import load_checkpoint
from morphospace.train.setup import Hardware, initial_model, load_bank

SIGNALS = ("rankme", "alignment", "uniformity")


@torch.inference_mode()
def features(backbone: torch.nn.Module, images, extents, view_size: int) -> torch.Tensor:
    """Unwhitened representations, each object framed whole and averaged over the 8
    rotations and flips (as inference feeds the network)."""
    framer = Augmenter(AugmentSettings(view_size=view_size))
    backbone.eval()
    out = []
    for start in range(0, len(images), 256):
        framed = standardise(
            framer.frame(images[start : start + 256], extents[start : start + 256], view_size)
        )
        views = dihedral(framed)
        out.append(sum(backbone(view) for view in views) / len(views))
    return torch.cat(out).float()


@torch.inference_mode()
def view_pairs(backbone, images, extents, settings: Settings) -> tuple[torch.Tensor, torch.Tensor]:
    """Representations of two augmented training views of every object (fixed seed)."""
    augment = Augmenter(settings.augment)
    generator = torch.Generator().manual_seed(12345)
    backbone.eval()
    first, second = [], []
    for start in range(0, len(images), 256):
        chunk = slice(start, start + 256)
        first.append(backbone(augment(images[chunk], extents[chunk], generator)))
        second.append(backbone(augment(images[chunk], extents[chunk], generator)))
    return torch.cat(first).float(), torch.cat(second).float()


def measure(backbone, bank, labels: np.ndarray, settings: Settings) -> dict[str, float]:
    """10-NN accuracy (whitened) and the label-free signals of one backbone."""
    raw = features(backbone, bank.images, bank.extents, settings.augment.view_size)
    whitened = Whitening(raw.shape[1]).fit(raw)(raw).numpy()
    first, second = view_pairs(backbone, bank.images, bank.extents, settings)
    return {
        "knn": knn_accuracy(whitened, labels),
        "knn_unwhitened": knn_accuracy(raw.numpy(), labels),
        "rankme": effective_rank(raw),
        "alignment": alignment(first, second),
        "uniformity": uniformity(first),
    }


def encoders(byol: BYOL) -> dict[str, torch.nn.Module]:
    """The online backbone and the EMA target's backbone."""
    target = copy.deepcopy(byol.target_encoder or byol.online_encoder).backbone
    return {"online": byol.online_encoder.backbone, "target": target}


def supervised_row(bank, labels: np.ndarray, settings: Settings, epochs: int) -> dict[str, Any]:
    """The bound: the backbone trained with the labels on the first fold's training objects."""
    from supervised_bound import fold_accuracy  # benchmarks/supervised_bound.py

    _, classes = np.unique(labels, return_inverse=True)
    train, test = folds(classes)[0]
    started = time.perf_counter()
    accuracy, network = fold_accuracy(
        bank.images, bank.extents, classes, train, test, settings.augment.view_size, epochs, 0
    )
    row = measure(network, bank, labels, settings)
    row["knn"] = accuracy  # held-out accuracy of the label-trained head, fold 1
    minutes = (time.perf_counter() - started) / 60
    row |= {"epoch": epochs, "network": "supervised", "minutes": minutes}
    return row


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("knn", "10-NN accuracy (whitened)"),
        ("rankme", "effective rank (RankMe)"),
        ("alignment", "alignment of two views (lower: closer)"),
        ("uniformity", "uniformity (lower: more even)"),
        ("drift", "weights moved from init, |w - w0| / |w0|"),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    curves = table[table["network"].isin(["online", "target"])]
    bound = table[table["network"] == "supervised"]
    for axis, (column, label) in zip(axes, panels, strict=True):
        for network, style in (("online", "-o"), ("target", "--s")):
            rows = curves[curves["network"] == network]
            axis.plot(rows["epoch"], rows[column], style, ms=3, label=network)
        untrained_value = curves[curves["epoch"] == 0][column]
        if len(untrained_value) and column != "drift":
            axis.axhline(float(untrained_value.iloc[0]), color="grey", lw=0.8, label="untrained")
        if len(bound) and column in bound and column != "drift":
            axis.axhline(float(bound[column].iloc[0]), color="tab:red", lw=0.8, label="supervised")
        axis.set_xlabel("epoch")
        axis.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def learning_curve(
    data: Path,
    label_column: str,
    epochs: int,
    stops: list[int],
    sets: dict[str, Any],
    *,
    seed: int,
    work: Path,
    supervised: bool = False,
    train_fraction: float = 1.0,
) -> pd.DataFrame:
    """Train one run of ``epochs`` on ``data`` (``sets`` over the defaults), measured at
    each of ``stops`` (epoch 0: untrained); one row per stop and network. With
    ``train_fraction`` < 1 the network trains on a random share of the objects (no labels
    are used in training either way) and is measured on all of them."""
    overrides = {
        "data.sources": [str(data / "images")],
        "train.epochs": epochs,
        "train.seed": seed,
        **sets,
    }
    settings = load_settings(None, overrides)
    run = work / "run"
    hw = Hardware.detect(settings)
    bank = load_bank(settings, run, hw.dist)
    table = pd.read_csv(data / "labels.csv")
    names = table["name"] if "name" in table else table["id"]
    by_id = dict(zip(names.astype(str), table[label_column].astype(str), strict=True))
    labels = np.array([by_id[object_id(path)] for path in bank.paths])

    trained_on = bank
    if train_fraction < 1:
        keep = np.random.default_rng(seed).permutation(len(bank))[
            : round(train_fraction * len(bank))
        ]
        trained_on = copy.copy(bank)
        trained_on.images, trained_on.extents = bank.images[keep], bank.extents[keep]
        trained_on.paths = [bank.paths[i] for i in keep]
    byol = initial_model(settings, bank.channels)  # the untrained network of this run
    initial = {k: v.clone() for k, v in byol.online_encoder.backbone.state_dict().items()}
    rows: list[dict[str, Any]] = []
    done, minutes = 0, 0.0
    for stop in stops:
        if stop > done:
            started = time.perf_counter()
            more = stop - done
            trainer = Trainer(settings, run, resume=done > 0, progress=False, stop_after=more)
            trainer.fit(trained_on)
            minutes += (time.perf_counter() - started) / 60
            done = stop
            state = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
            whitening = byol.whitening.state_dict(prefix="whitening.")
            byol.load_state_dict({**whitening, **state})
        for network, backbone in encoders(byol).items():
            row = {"epoch": stop, "network": network, "minutes": minutes}
            row |= measure(backbone, bank, labels, settings)
            row["drift"] = weight_distance(backbone, initial)
            rows.append(row)
            print(
                f"epoch {stop:3d} {network:6s} 10-NN {row['knn']:.3f}  rankme {row['rankme']:.1f}"
                f"  align {row['alignment']:.3f}  unif {row['uniformity']:.3f}"
                f"  drift {row['drift']:.3f}  ({minutes:.1f} min)",
                flush=True,
            )
    if supervised:
        rows.append(supervised_row(bank, labels, settings, epochs=60))
        print(f"supervised bound: {rows[-1]}", flush=True)

    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="images/ and labels.csv")
    parser.add_argument("--label-column", default="class")
    parser.add_argument("--epochs", type=int, default=60, help="the schedule's length")
    parser.add_argument("--stops", default="0,2,5,10,20,30,45,60")
    parser.add_argument("--set", action="append", default=[], help="SECTION.KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--supervised", action="store_true", help="add the supervised bound")
    parser.add_argument("--work", type=Path, default=Path(".bench/curve"))
    parser.add_argument("--train-fraction", type=float, default=1.0, help="share trained on")
    args = parser.parse_args()
    stops = sorted({int(s) for s in args.stops.split(",") if int(s) <= args.epochs})

    curve = learning_curve(
        args.data, args.label_column, args.epochs, stops, parse_assignments(args.set),
        seed=args.seed, work=args.work, supervised=args.supervised,
        train_fraction=args.train_fraction,
    )  # fmt: skip
    args.work.mkdir(parents=True, exist_ok=True)
    curve.to_csv(args.work / "curve.csv", index=False)
    objects = len(pd.read_csv(args.data / "labels.csv"))
    title = f"{objects} objects of {args.data}, {args.epochs}-epoch schedule, seed {args.seed}"
    plot(curve, args.work / "curve.png", title)

    print(f"\n{title}\n")
    columns = ["epoch", "network", "knn", "knn_unwhitened", "rankme", "alignment", "uniformity",
               "drift", "minutes"]  # fmt: skip
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in curve.to_dict("records"):
        cells = [f"{row.get(c, float('nan')):.3f}" if c not in ("epoch", "network") else str(row[c])
                 for c in columns]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print("\nSpearman's rho of each signal with the 10-NN accuracy over the stops:")
    for network in ("online", "target"):
        rows_of = curve[curve["network"] == network]
        rhos = {s: spearmanr(rows_of[s], rows_of["knn"]).statistic for s in SIGNALS}
        print(f"  {network}: " + ", ".join(f"{s} {r:+.2f}" for s, r in rhos.items()))
    print(f"\nwrote {args.work / 'curve.csv'} and {args.work / 'curve.png'}")


if __name__ == "__main__":
    main()
