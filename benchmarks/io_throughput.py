"""Objects per second to read and preprocess synthetic 128x128 FITS files.

Three ways over the same files, side by side in one run (best of ``--repeat``):

1. ``getdata loop``: a bare ``astropy.io.fits.getdata`` loop. It reads pixels only: no
   metadata, no blank mask, no preprocessing. It is the floor of what decoding costs.
2. ``naive loop``: what a user script would do to get the same result: ``getdata``,
   ``getheader``, a WCS for the pixel scale and sky position, then fill, clip, asinh
   stretch and z-score with plain numpy, one file after another.
3. ``morphospace``: ``find_sources`` + ``read_many`` with the default preprocessing chain,
   on all available cores.

Run: ``python benchmarks/io_throughput.py`` (add ``--n``, ``--size``, ``--workers``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from morphospace.io import find_sources, read_many
from morphospace.io.reader import default_workers
from morphospace.preprocess import PreprocessChain
from morphospace.synth import synthesize


def getdata_loop(paths: list[Path]) -> int:
    return sum(fits.getdata(p).size > 0 for p in paths)


def naive_loop(paths: list[Path]) -> int:
    done = 0
    for path in paths:
        data = fits.getdata(path).astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = fits.getheader(path)
            wcs = WCS(header)
        _scale = proj_plane_pixel_scales(wcs.celestial).mean() * 3600
        _position = wcs.celestial.pixel_to_world(data.shape[1] / 2, data.shape[0] / 2).icrs
        data = np.where(np.isfinite(data), data, np.nanmedian(data))
        low, high = np.percentile(data, [1.0, 99.9])
        data = np.clip(data, low, high)
        data = (data - low) / (high - low) if high > low else np.zeros_like(data)
        data = np.arcsinh(data / 0.1) / np.arcsinh(1 / 0.1)
        std = data.std()
        data = (data - data.mean()) / std if std > 0 else np.zeros_like(data)
        done += bool(np.isfinite(data).all())
    return done


def morphospace_read(folder: Path, workers: int) -> int:
    result = read_many(find_sources(folder), transform=PreprocessChain.default(), workers=workers)
    return len(result.items)


def best_rate(label: str, run, n: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        times.append(time.perf_counter() - start)
        assert count == n, f"{label}: processed {count} of {n}"
    rate = n / min(times)
    print(f"{label:<28} {rate:8.1f} objects/s   (best of {repeat}: {min(times):.2f} s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthesize(root, args.n, size=args.size, seed=0)
        folder = root / "images"
        paths = sorted(folder.glob("*.fits"))
        getdata_loop(paths)  # warm the page cache so every contender reads from memory
        print(f"{args.n} synthetic {args.size}x{args.size} FITS files, {args.workers} worker(s)")
        bare = best_rate(
            "getdata loop (pixels only)", lambda: getdata_loop(paths), args.n, args.repeat
        )
        naive = best_rate("naive loop (same work)", lambda: naive_loop(paths), args.n, args.repeat)
        ours = best_rate(
            "morphospace read_many",
            lambda: morphospace_read(folder, args.workers),
            args.n,
            args.repeat,
        )
    print(f"ratio morphospace / naive loop (same work):    {ours / naive:.2f}x")
    print(f"ratio morphospace / getdata loop (pixels only): {ours / bare:.2f}x")


if __name__ == "__main__":
    main()
