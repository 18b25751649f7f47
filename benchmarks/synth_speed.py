"""Seconds to synthesise 1,000 2-D objects (goal: under 30 s on 2 cores).

Side by side in one run:

1. ``write floor``: writing 1,000 FITS files of the same shapes (zeros, minimal header),
   one after another: the I/O cost that any generator pays.
2. ``synthesize, 1 worker`` and ``synthesize, all cores``: models, beam convolution,
   correlated noise, blank borders, WCS headers and labels.csv.

Run: ``python benchmarks/synth_speed.py`` (``--n`` to change the count).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from morphospace.io.reader import default_workers
from morphospace.synth import synthesize


def timed(label: str, run) -> float:
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {seconds:7.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parallel = timed(
            f"synthesize, {workers} workers", lambda: synthesize(root / "a", args.n, seed=0)
        )
        serial = timed(
            "synthesize, 1 worker", lambda: synthesize(root / "b", args.n, seed=0, workers=1)
        )
        with open(root / "a" / "labels.csv") as handle:
            sizes = [int(row["size"]) for row in csv.DictReader(handle)]
        (root / "floor").mkdir()

        def write_floor() -> None:
            for i, side in enumerate(sizes):
                data = np.zeros((side, side), np.float32)
                fits.PrimaryHDU(data).writeto(root / "floor" / f"{i:05d}.fits")

        floor = timed("write floor (zeros)", write_floor)
    print(f"{args.n} objects, sides {min(sizes)}-{max(sizes)} px")
    print(f"synthesize on all cores: {parallel:.2f} s = {30 / parallel:.1f}x under the 30 s goal")
    print(f"ratio synthesize (1 worker) / write floor: {serial / floor:.2f}x the bare I/O time")


if __name__ == "__main__":
    main()
