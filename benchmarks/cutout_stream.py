"""Cutting a map by a catalogue while reading, against a bare numpy loop and against writing
one file per object.

Writes a 2,683 x 2,683 px map with a celestial WCS and a catalogue of positions once, then
times on one core, side by side:

- a bare numpy loop: slices of the memory-mapped map, padded at its edge (the limit);
- morphospace's streamed path: ``read_object`` of every object of the map's index
  (``train``/``embed``/``inspect MAP --catalog``): pixels, metadata, blanks, ids, positions;
- ``morphospace cutouts``: one FITS file per object (on the first 2,000).

    python benchmarks/cutout_stream.py [-n 100000] [--side 48]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata.utils import overlap_slices
from astropy.table import Table

from morphospace.io import cutouts_from_catalog, find_sources, read_object
from morphospace.io.cutouts import CatalogueCut

WORK = Path(".bench/cutout-stream")
MAP_SIDE = 2683
WRITTEN = 2000


def make(work: Path, n: int) -> tuple[Path, Path]:
    field, catalogue = work / "field.fits", work / f"positions-{n}.fits"
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if not field.exists():
        header = fits.Header()
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        header["CRVAL1"], header["CRVAL2"] = 150.0, 2.0
        header["CDELT1"], header["CDELT2"] = -1.8 / 3600, 1.8 / 3600
        header["CRPIX1"] = header["CRPIX2"] = (MAP_SIDE + 1) / 2
        data = rng.normal(size=(MAP_SIDE, MAP_SIDE)).astype(np.float32)
        fits.PrimaryHDU(data, header).writeto(field)
    if not catalogue.exists():
        x, y = rng.uniform(0, MAP_SIDE - 1, n), rng.uniform(0, MAP_SIDE - 1, n)
        Table({"name": [f"src{i}" for i in range(n)], "x": x, "y": y}).write(catalogue)
    return field, catalogue


def numpy_loop(field: Path, catalogue: Path, side: int) -> float:
    table = Table.read(catalogue)
    data = fits.open(field, memmap=True)[0].data
    started = time.perf_counter()
    for x, y in zip(table["x"], table["y"], strict=True):
        large, small = overlap_slices(data.shape, (side, side), (y, x), mode="partial")
        out = np.full((side, side), np.nan, dtype=np.float32)
        out[small] = data[large]
    return len(table) / (time.perf_counter() - started)


def streamed(field: Path, catalogue: Path, side: int, work: Path) -> tuple[float, float]:
    started = time.perf_counter()
    index = CatalogueCut(catalogue, size=f"{side}px").stack(field, work / "sources")
    addresses = find_sources([index])
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    for address in addresses:
        read_object(address)
    return len(addresses) / (time.perf_counter() - started), indexed


def written(field: Path, catalogue: Path, side: int, work: Path) -> float:
    few = work / "first.fits"
    Table.read(catalogue)[:WRITTEN].write(few, overwrite=True)
    shutil.rmtree(work / "cutouts", ignore_errors=True)
    started = time.perf_counter()
    cutouts_from_catalog(field, few, work / "cutouts", size=f"{side}px")
    return WRITTEN / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="positions [100000]")
    parser.add_argument("--side", type=int, default=48, help="cutout side in px [48]")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    field, catalogue = make(args.work, args.n)
    loop = numpy_loop(field, catalogue, args.side)
    rate, indexed = streamed(field, catalogue, args.side, args.work)
    files = written(field, catalogue, args.side, args.work)
    print(f"{args.n} objects of {args.side} px from a {MAP_SIDE}x{MAP_SIDE} map, one core")
    print(f"bare numpy slicing loop         {loop:9.0f} objects/s")
    print(
        f"morphospace, cut while read     {rate:9.0f} objects/s  (index written in {indexed:.1f} s)"
    )
    print(f"morphospace cutouts, to files   {files:9.0f} objects/s  (first {WRITTEN})")
    print(f"ratio streamed / numpy loop:    {rate / loop:.2f}x")
    print(f"ratio streamed / files:         {rate / files:.1f}x")
    print(f"a million objects: {1e6 / rate / 60:.1f} min to cut while read, "
          f"{1e6 / files / 3600:.1f} h as files")  # fmt: skip


if __name__ == "__main__":
    main()
