"""Training throughput: morphospace against astromorph 0.1.2's own loop, side by side.

Same data (256 synthetic objects of 48-128 px), same backbone (ResNet-18 cut after
``layer2``, 1 input channel), same machine and torch build. Prints objects/s for both,
their ratio, and the share of the CPU's measured matmul FLOP rate that morphospace's
training reaches.

Run: ``python benchmarks/train_throughput.py`` (first run installs astromorph 0.1.2 into
``.bench/astromorph-venv``; ``--skip-astromorph`` to time morphospace alone).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from astromorph_env import run_harness, shared_objects
from morphospace.augment import AugmentSettings
from morphospace.byol import BYOL
from morphospace.config import validate_settings
from morphospace.models import build_backbone
from morphospace.train import Trainer

BACKBONE = "resnet18:layer2"


def matmul_flop_rate(sizes: tuple[int, ...] = (512, 1024, 2048, 3072), repeat: int = 5) -> float:
    """Best float32 matrix-product FLOP/s over several sizes (all torch threads)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(2):
            a @ b
        start = time.perf_counter()
        for _ in range(repeat):
            a @ b
        best = max(best, 2 * n**3 * repeat / (time.perf_counter() - start))
    return best


def training_flops_per_object(view_size: int, batch: int = 32) -> float:
    """Convolution and matmul FLOPs of one BYOL step (both views, online + target), per object."""
    byol = BYOL(build_backbone(BACKBONE, 1), 1).to(memory_format=torch.channels_last)
    views = [torch.randn(batch, 1, view_size, view_size) for _ in range(2)]
    with FlopCounterMode(display=False) as counter:
        byol(*views).backward()
    return counter.get_total_flops() / batch


def run_morphospace(images: Path, run: Path, epochs: int, batch: int, view_size: int) -> float:
    settings = validate_settings(
        {
            "data": {"sources": [str(images)], "cache": False},
            "model": {"backbone": BACKBONE},
            "augment": {"view_size": view_size},
            "train": {"epochs": epochs, "batch_size": batch, "val_fraction": 0.0},
        }
    )
    result = Trainer(settings, run, progress=False).fit()
    rates = [record["images_per_second"] for record in result.history[1:]]  # epoch 1 warms up
    return statistics.median(rates)


def run_astromorph(filelist: Path, n_objects: int) -> float:
    return run_harness("astromorph_train_loop.py", filelist, n_objects)["objects_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--view-size", type=int, default=AugmentSettings().view_size)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both systems")
    parser.add_argument("--skip-astromorph", action="store_true")
    args = parser.parse_args()

    ours, theirs, ratios = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images, filelist = shared_objects(root, args.n)
        print(f"{args.n} synthetic objects, 48-128 px; {BACKBONE}, 1 channel; "
              f"{torch.get_num_threads()} CPU threads; morphospace: batch {args.batch_size}, "
              f"two {args.view_size} px views per object; astromorph: one object + 3 flipped "
              "copies per pass")  # fmt: skip
        # The machine's speed drifts (shared host): alternate the two and compare each pair.
        for round_ in range(args.rounds):
            ours.append(
                run_morphospace(
                    images, root / f"run{round_}", args.epochs, args.batch_size, args.view_size
                )
            )
            line = f"round {round_ + 1}: morphospace {ours[-1]:7.2f} objects/s"
            if not args.skip_astromorph:
                theirs.append(run_astromorph(filelist, args.n))
                ratios.append(ours[-1] / theirs[-1])
                line += f", astromorph {theirs[-1]:6.2f} objects/s, ratio {ratios[-1]:.1f}x"
            print(line, flush=True)
    print(f"morphospace median: {statistics.median(ours):.2f} objects/s")
    if ratios:
        print(f"astromorph median:  {statistics.median(theirs):.2f} objects/s")
        ratio = statistics.median(ratios)
        print(f"ratio morphospace / astromorph 0.1.2 (median of rounds): {ratio:.1f}x")
    peak = matmul_flop_rate()
    per_object = training_flops_per_object(args.view_size)
    achieved = per_object * statistics.median(ours)
    print(f"training FLOPs per object: {per_object / 1e9:.2f} GFLOP")
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s")
    print(f"CPU matmul rate {peak / 1e9:.1f} GFLOP/s (best size)")
    print(f"training reaches {achieved / peak:.0%} of it")


if __name__ == "__main__":
    main()
