"""Transfer: a model pretrained on a large synthetic set, fine-tuned on real cutouts.

Side by side on one target set (by default the FIRST development cutouts):

- **pretrained only**: BYOL trained on a synthetic set of both families (``synth``), the
  target objects embedded with it and never trained on;
- **fine-tuned**: the same model, then ``train --init`` on the target objects for
  ``--finetune-epochs``;
- **from scratch**: the default training on the target objects for as long as the other
  two took together (pretraining plus fine-tuning wall time), so both spend equal time.

Each is scored by the 5-fold cosine 10-NN accuracy and the linear probe on the target's
labels.

Run: ``python benchmarks/transfer.py --target data/first-dev/images
--labels data/first-dev/labels.csv:class [--pretrain-n 10000] [--pretrain-epochs 20]``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from morphospace.config import load_settings
from morphospace.evaluate.metrics import knn_accuracy, linear_probe_accuracy
from morphospace.explore import RunTable
from morphospace.pipeline import embed_run
from morphospace.synth import synthesize
from morphospace.train import Trainer


def train(run: Path, sources: list[str], **overrides) -> tuple[float, int]:
    """Train a run; its wall time in seconds and its epochs."""
    settings = load_settings(None, {"data.sources": sources, **overrides})
    started = time.perf_counter()
    result = Trainer(settings, run, progress=False).fit()
    return time.perf_counter() - started, result.epochs


def score(table: Path, labels: tuple[str, str]) -> tuple[float, float]:
    """The 10-NN and linear-probe accuracies of a table on the labelled objects."""
    embeddings = RunTable.open(table)
    classes = embeddings.joined_column(*labels)
    known = [i for i, c in enumerate(classes) if isinstance(c, str) and c]
    x, y = embeddings.vectors[known], classes[known]
    return knn_accuracy(x, y), linear_probe_accuracy(x, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="data/first-dev/images", help="the target objects")
    parser.add_argument("--labels", default="data/first-dev/labels.csv:class", help="CSV:COLUMN")
    parser.add_argument("--pretrain-n", type=int, default=10_000, help="synthetic objects")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--finetune-epochs", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path(".bench/transfer"))
    args = parser.parse_args()
    path, column = args.labels.rsplit(":", 1)
    labels = (path, column)

    synthetic = args.work / f"synthetic-{args.pretrain_n}"
    if not (synthetic / "labels.csv").exists():
        synthesize(synthetic, args.pretrain_n, seed=1)
    pretrained, tuned, scratch = (args.work / name for name in ("pretrained", "tuned", "scratch"))
    pretrain = {"train.epochs": args.pretrain_epochs}
    t_pre, _ = train(pretrained, [str(synthetic / "images")], **pretrain)
    t_tune, tune_epochs = train(
        tuned,
        [args.target],
        **{"train.epochs": args.finetune_epochs, "finetune.from_run": str(pretrained)},
    )
    per_epoch = t_tune / tune_epochs  # the target's epoch time, as the scratch run will see it
    scratch_epochs = max(1, math.floor((t_pre + t_tune) / per_epoch))
    t_scratch, _ = train(scratch, [args.target], **{"train.epochs": scratch_epochs})

    rows = []
    for name, run, minutes in (
        ("pretrained only (synthetic)", pretrained, t_pre / 60),
        ("pretrained + fine-tuned", tuned, (t_pre + t_tune) / 60),
        (f"from scratch, {scratch_epochs} epochs", scratch, t_scratch / 60),
    ):
        table = embed_run(run, [args.target], run / "target.parquet").path
        knn, probe = score(table, labels)
        rows.append((name, knn, probe, minutes))
    print(f"pretraining: {args.pretrain_n} synthetic objects, {args.pretrain_epochs} epochs, "
          f"{t_pre / 60:.1f} min; fine-tuning: {tune_epochs} epochs, "
          f"{t_tune / 60:.1f} min")  # fmt: skip
    print(f"{'model':36s} {'10-NN':>6s} {'probe':>6s} {'minutes':>8s}")
    for name, knn, probe, minutes in rows:
        print(f"{name:36s} {knn:6.3f} {probe:6.3f} {minutes:8.1f}")
    gain, alone = (100 * (rows[i][1] - rows[2][1]) for i in (1, 0))
    print(f"10-NN, fine-tuned - from scratch at equal time: {gain:+.1f} points; "
          f"pretrained only - from scratch: {alone:+.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
