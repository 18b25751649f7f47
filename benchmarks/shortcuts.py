"""What each speed shortcut buys end to end, against the library call it stands in for.

The path timed is ``Embedder.embed`` from cold FITS files (reading, preprocessing and the
forward passes, in worker processes), as ``benchmarks/embed_throughput.py`` times it, on
the same 1,000 synthetic objects of 48-128 px. Each round times the code as it ships,
then once with each shortcut swapped for its library version (``LIBRARY`` in
``morphospace.io._fast`` and ``morphospace.preprocess._fast``); the rounds alternate, as
the shared host's speed drifts. A shortcut that buys less than 10 % belongs back in the
library.

Run: ``python benchmarks/shortcuts.py [--n 1000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from astromorph_env import shared_objects
from embed_throughput import train_tiny
from morphospace.embed import Embedder
from morphospace.io import _fast as io_fast
from morphospace.preprocess import _fast as preprocess_fast

SHORTCUTS = {
    f"{module.__name__.removeprefix('morphospace.')}.{name}": (module, name)
    for module in (io_fast, preprocess_fast)
    for name in module.LIBRARY
}


@contextmanager
def library_in_place_of(module, name: str):
    """``module.name`` replaced by its library version for the duration."""
    shortcut = getattr(module, name)
    setattr(module, name, module.LIBRARY[name])
    try:
        yield
    finally:
        setattr(module, name, shortcut)


def rate(embedder: Embedder, images: Path) -> float:
    start = time.perf_counter()
    table, _ = embedder.embed([images])
    return len(table.rows) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images, _ = shared_objects(root, args.n)
        train_tiny(images, root / "run")
        embedder = Embedder.from_run(root / "run", tta=False)
        rate(embedder, images)  # warm the page cache and the lazy imports
        shipped: list[float] = []
        without: dict[str, list[float]] = {label: [] for label in SHORTCUTS}
        for round_ in range(args.rounds):
            shipped.append(rate(embedder, images))
            for label, (module, name) in SHORTCUTS.items():
                with library_in_place_of(module, name):
                    without[label].append(rate(embedder, images))
            print(
                f"round {round_ + 1}: as shipped {shipped[-1]:7.1f} objects/s; "
                + ", ".join(f"{label} library {rates[-1]:.1f}" for label, rates in without.items()),
                flush=True,
            )
    print(f"{args.n} cold files to embeddings (Embedder.embed, no TTA), median of rounds:")
    print(f"  as shipped: {statistics.median(shipped):7.1f} objects/s")
    for label, rates in without.items():
        gains = [s / w for s, w in zip(shipped, rates, strict=True)]
        print(
            f"  {label:<32} library {statistics.median(rates):7.1f} objects/s; "
            f"the shortcut buys {100 * (statistics.median(gains) - 1):+.1f} %"
        )


if __name__ == "__main__":
    main()
