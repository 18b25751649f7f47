"""The supervised bound: the default backbone trained *with* the labels, on the inputs BYOL sees.

Self-supervised embeddings are scored by how well their 10 nearest neighbours vote for a
label. This benchmark asks how far any training of the same network on the same inputs
could go: the default backbone (ResNet-18 cut after layer2) plus a linear head, trained
with cross-entropy on the labels, fed exactly as BYOL is (the run's preprocessing chain,
the same augmentations, views of ``--view-size`` px, the eight 90° rotations and flips
averaged at test time). Its accuracy on held-out folds (the same stratified folds as the
10-NN score) is printed beside the self-supervised run's 10-NN accuracy.

Run: ``python benchmarks/supervised_bound.py --run .bench/first/run
--data data/first-dev --label-column class [--view-size 32] [--epochs 60] [--folds 5]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from morphospace.augment import Augmenter, AugmentSettings, standardise
from morphospace.dataset import to_bank
from morphospace.embed import Embedder
from morphospace.evaluate.metrics import folds
from morphospace.io import object_id
from morphospace.models.backbones import build_backbone
from morphospace.models.inference import dihedral
from transfer import score  # benchmarks/transfer.py: a table's 10-NN and probe accuracies

BATCH = 64


def fold_accuracy(
    bank: torch.Tensor,
    extents: torch.Tensor,
    classes: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    view_size: int,
    epochs: int,
    seed: int,
) -> tuple[float, torch.nn.Module]:
    """Train on ``train`` with the labels; accuracy on ``test``, and the trained backbone."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = build_backbone("resnet18:layer2", bank.shape[1])
    head = torch.nn.Linear(128, int(classes.max()) + 1)
    parameters = [*network.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=2e-3, weight_decay=1e-4)
    steps = len(train) // BATCH
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=epochs * steps)
    augment = Augmenter(AugmentSettings(view_size=view_size))
    targets = torch.as_tensor(classes)
    network.train()
    for _ in range(epochs):
        order = rng.permutation(train)
        for step in range(steps):
            batch = order[step * BATCH : (step + 1) * BATCH]
            views = augment(bank[batch], extents[batch])
            loss = F.cross_entropy(head(network(views)), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    network.eval()
    with torch.inference_mode():
        framed = standardise(augment.frame(bank[test], extents[test], view_size))
        votes = sum(F.softmax(head(network(view)), dim=1) for view in dihedral(framed))
    return float((votes.argmax(1).numpy() == classes[test]).mean()), network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained run on --data")
    parser.add_argument("--data", type=Path, required=True, help="images/ and labels.csv")
    parser.add_argument("--label-column", default="class")
    parser.add_argument("--view-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))

    labels = pd.read_csv(args.data / "labels.csv")
    names, classes = np.unique(labels[args.label_column].to_numpy(str), return_inverse=True)
    embedder = Embedder.from_run(args.run)
    objects = embedder.load(args.data / "images", cache_dir=args.run / "cache")
    where = {object_id(meta.path): i for i, meta in enumerate(objects.metas)}
    arrays = [objects.arrays[where[object_id(str(name))]] for name in labels["name"]]
    bank = to_bank(arrays, round(args.view_size * 1.5))
    extents = torch.tensor([a.shape[-2:] for a in arrays], dtype=torch.float32)

    started = time.perf_counter()
    scores = []
    for number, (train, test) in enumerate(folds(classes)[: args.folds]):
        accuracy, _ = fold_accuracy(
            bank, extents, classes, train, test, args.view_size, args.epochs, number
        )
        scores.append(accuracy)
        print(f"fold {number}: {scores[-1]:.3f}", flush=True)
    minutes = (time.perf_counter() - started) / 60

    knn, _ = score(args.run / "embeddings.parquet", (args.data / "labels.csv", args.label_column))
    supervised = float(np.mean(scores))
    print(f"\n{len(labels)} objects of {args.data}, classes {', '.join(names)}")
    print("| embedding | accuracy | minutes |\n|---|---|---|")
    print(f"| self-supervised run {args.run}, 10-NN | {knn:.3f} | |")
    print(
        f"| supervised, {args.view_size} px, {args.epochs} epochs, {len(scores)} fold(s) "
        f"| {supervised:.3f} | {minutes:.1f} |"
    )
    print(f"\nself-supervised / supervised: {knn / supervised:.3f}")


if __name__ == "__main__":
    main()
