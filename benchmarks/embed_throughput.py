"""Embedding throughput: morphospace against astromorph 0.1.2's inference, side by side.

Same files (1,000 synthetic objects of 48-128 px), same backbone (ResNet-18 cut after
``layer2``, 1 input channel), same machine and torch build. Both are timed from FITS
files on disk to embeddings in memory: reading, preprocessing and the forward passes.
morphospace is timed without its object cache (a cold read), with and without test-time
averaging over the eight 90° rotations and flips (which does 8x the network work).

Run: ``python benchmarks/embed_throughput.py`` (first run installs astromorph 0.1.2 into
``.bench/astromorph-venv``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from astropy.io import fits

from astromorph_env import run_harness, shared_objects
from morphospace.config import validate_settings
from morphospace.embed import Embedder
from morphospace.train import Trainer

BACKBONE = "resnet18:layer2"


def train_tiny(images: Path, run: Path) -> None:
    """A morphospace model of the benchmark's backbone (one short epoch: speed only)."""
    settings = validate_settings(
        {
            "data": {"sources": [str(images)], "cache": False},
            "model": {"backbone": BACKBONE},
            "train": {"epochs": 1, "val_fraction": 0.0},
        }
    )
    Trainer(settings, run, progress=False).fit()


def time_morphospace(
    images: Path, run: Path, tta: bool, cache: Path | None = None
) -> tuple[float, float]:
    """(objects/s from files to the embedding table, objects/s of the network passes alone).

    Timed through ``Embedder.embed``, the path of ``morphospace embed``: its worker
    processes read, preprocess and embed. The network alone is timed afterwards on the
    same objects, read again untimed.
    """
    embedder = Embedder.from_run(run, tta=tta)
    start = time.perf_counter()
    table, _ = embedder.embed([images], cache_dir=cache)
    rate = len(table.rows) / (time.perf_counter() - start)
    arrays = embedder.load([images], cache_dir=cache).arrays
    model_start = time.perf_counter()
    vectors = embedder.transform(arrays)
    network = len(vectors) / (time.perf_counter() - model_start)
    assert len(vectors) == len(table.rows)
    return rate, network


def time_astromorph(filelist: Path, workdir: Path) -> tuple[float, float]:
    rates = run_harness("astromorph_inference.py", filelist, workdir)
    return rates["objects_per_second"], rates["model_objects_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both systems")
    args = parser.parse_args()
    plain, averaged, cached, theirs = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images, filelist = shared_objects(root, args.n)
        train_tiny(images, root / "run")
        embedder = Embedder.from_run(root / "run")
        embedder.load([images], cache_dir=root / "cache")  # fill the cache, as training does
        print(f"{args.n} synthetic objects, 48-128 px; {BACKBONE}, 1 channel; "
              f"{torch.get_num_threads()} CPU threads; from FITS files to embeddings")  # fmt: skip
        for round_ in range(args.rounds):  # alternate: the shared host's speed drifts
            plain.append(time_morphospace(images, root / "run", tta=False))
            averaged.append(time_morphospace(images, root / "run", tta=True))
            cached.append(time_morphospace(images, root / "run", False, root / "cache"))
            theirs.append(time_astromorph(filelist, root))
            print(
                f"round {round_ + 1}: morphospace {plain[-1][0]:7.1f} objects/s "
                f"(with 8-fold TTA {averaged[-1][0]:6.1f}), astromorph {theirs[-1][0]:6.1f} "
                f"objects/s, ratio {plain[-1][0] / theirs[-1][0]:.1f}x",
                flush=True,
            )
        # a reference for reading: decoding the same files with a bare getdata loop
        start = time.perf_counter()
        for path in sorted(images.glob("*.fits")):
            fits.getdata(path)
        read = args.n / (time.perf_counter() - start)

    def median(rows, column):
        return statistics.median(row[column] for row in rows)

    print(f"morphospace, one pass per object: {median(plain, 0):7.1f} objects/s "
          f"(network alone {median(plain, 1):7.1f})")  # fmt: skip
    print(f"morphospace, 8-fold TTA:          {median(averaged, 0):7.1f} objects/s "
          f"(network alone {median(averaged, 1):7.1f})")  # fmt: skip
    print(f"morphospace, preprocessed cache:  {median(cached, 0):7.1f} objects/s "
          f"(as in 'morphospace run', where training filled RUN/cache)")  # fmt: skip
    print(f"astromorph 0.1.2:                 {median(theirs, 0):7.1f} objects/s "
          f"(network alone {median(theirs, 1):7.1f})")  # fmt: skip
    ratios = [p[0] / t[0] for p, t in zip(plain, theirs, strict=True)]
    tta_ratios = [a[0] / t[0] for a, t in zip(averaged, theirs, strict=True)]
    print(
        f"ratio morphospace / astromorph 0.1.2 (median of rounds): {statistics.median(ratios):.1f}x"
    )
    cached_ratios = [c[0] / t[0] for c, t in zip(cached, theirs, strict=True)]
    print(f"ratio with the preprocessed cache:                       "
          f"{statistics.median(cached_ratios):.1f}x")  # fmt: skip
    print(f"ratio with 8-fold TTA (8x the network work):             "
          f"{statistics.median(tta_ratios):.1f}x")  # fmt: skip
    network = median(plain, 1)
    bound = 1 / (1 / read + 1 / network)
    print(
        f"for reference, a bare getdata loop ({read:.0f} objects/s, no metadata or preprocessing) "
        f"then morphospace's network: {bound:.0f} objects/s = {bound / median(theirs, 0):.1f}x"
    )


if __name__ == "__main__":
    main()
