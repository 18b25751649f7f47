"""Embedding quality against astromorph 0.1.2 at the same wall-clock training budget.

    python benchmarks/quality_vs_astromorph.py            # 1,000 synthetic objects

morphospace trains with its default settings and is timed; astromorph 0.1.2 then trains
for the same number of seconds (``astromorph_quality.py``, in ``.bench/astromorph-venv``)
on the same objects. Both embed every object and are scored by the same k-NN accuracy
(k = 10, cosine, the same 5 stratified folds) on the synthetic morphologies. astromorph's
files have their blank (NaN) pixels filled with the median first: its min-max
normalisation would otherwise turn those objects into NaN (a failure this benchmark does
not set out to measure). Target: morphospace at least 15 points above astromorph.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from ablation import embed_in_label_order
from astromorph_env import run_harness
from morphospace.config import load_settings
from morphospace.evaluate.metrics import knn_accuracy
from morphospace.synth import synthesize
from morphospace.train import Trainer


def filled_copies(labels: pd.DataFrame, data: Path, folder: Path) -> Path:
    """NaN-free copies of the objects for astromorph, and its file list, in label order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for relative in labels["path"]:
        image = fits.getdata(data / relative).astype(np.float32)
        image[~np.isfinite(image)] = np.nanmedian(image)
        path = folder / Path(relative).name
        fits.PrimaryHDU(image).writeto(path, overwrite=True)
        paths.append(str(path))
    filelist = folder / "files.txt"
    filelist.write_text("\n".join(paths) + "\n")
    return filelist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path(".bench/versus"))
    args = parser.parse_args()

    data = args.work / "data"
    if not (data / "labels.csv").exists():
        synthesize(data, args.n, seed=0)
    labels = pd.read_csv(data / "labels.csv")
    y = labels["morphology"].to_numpy(str)

    run = args.work / "run"
    settings = load_settings(None, {"data.sources": [str(data / "images")]})
    start = time.perf_counter()
    trained = Trainer(settings, run, progress=False).fit()
    budget = time.perf_counter() - start
    ours = embed_in_label_order(run, data / "images", labels)

    with tempfile.TemporaryDirectory() as scratch:
        filelist = filled_copies(labels, data, Path(scratch) / "filled")
        out = Path(scratch) / "astromorph.npy"
        figures = run_harness("astromorph_quality.py", filelist, f"{budget:.1f}", out)
        theirs = np.load(out)

    ours_knn, theirs_knn = knn_accuracy(ours, y), knn_accuracy(theirs, y)
    print(f"{len(y)} synthetic objects, {len(set(y))} morphologies; resnet18:layer2, 1 channel")
    print(f"training budget: {budget / 60:.1f} min (morphospace's default run, timed)")
    print(f"morphospace: k-NN accuracy {ours_knn:.3f} "
          f"({trained.total_epochs} epochs)")  # fmt: skip
    print(f"astromorph 0.1.2: k-NN accuracy {theirs_knn:.3f} ({figures['epochs']:.2f} epochs "
          f"in the same time, {figures['objects_per_second']:.1f} objects/s)")  # fmt: skip
    print(f"margin: {100 * (ours_knn - theirs_knn):+.1f} points (target >= +15)")


if __name__ == "__main__":
    main()
