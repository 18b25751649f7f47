"""Embedding quality of the default `morphospace run` on synthetic sets with known answers.

    python benchmarks/quality_synthetic.py                  # 1,000 objects, 10 classes
    python benchmarks/quality_synthetic.py --hard -n 1500   # survey-like cutouts

Synthesises the set, trains with the default settings (timing the training), embeds, and
scores the embedding with `morphospace evaluate` against raw-pixel PCA and the randomly
initialised network. Targets: k-NN accuracy >= 0.90 and >= 15 points above
raw-pixel PCA; cross-validated R² >= 0.7 for inclination and ring radius; training within
15 minutes on 2 CPU cores. Labels: ``morphology`` (smooth disks and dense cores are one
morphology; see ``morphospace.synth.generate.SAME_MORPHOLOGY``), with the 10 physical
classes reported too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from morphospace.config import load_settings
from morphospace.evaluate import evaluate_table
from morphospace.pipeline import embed_run
from morphospace.synth import synthesize
from morphospace.train import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="objects [1000]")
    parser.add_argument("--hard", action="store_true", help="the survey-like family")
    parser.add_argument("--work", type=Path, default=Path(".bench/quality"), help="work folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = args.work / ("hard" if args.hard else "standard")
    labels = root / "data" / "labels.csv"
    if not labels.exists():
        synthesize(root / "data", args.n, seed=args.seed, hard=args.hard)
    settings = load_settings(None, {"data.sources": [str(root / "data" / "images")]})
    run = root / "run"
    start = time.perf_counter()
    Trainer(settings, run, progress=False).fit()
    training = time.perf_counter() - start
    table = embed_run(run).path
    card = evaluate_table(
        table,
        labels=(labels, "morphology"),
        params=(labels, ["inclination", "ring_radius_rel"]),
        baselines=["pixel_pca", "random"],
    )
    card.write(root / "evaluation")
    by_class = evaluate_table(table, labels=(labels, "class"), invariance=False)

    model, pca = card.row("morphospace"), card.row("raw-pixel PCA")
    family = "hard (survey-like)" if args.hard else "standard"
    print(f"{family} synthetic set: {card.n_objects} objects, {len(card.classes)} morphologies")
    print(f"classes: {', '.join(f'{k} {v}' for k, v in card.classes.items())}")
    print(f"training with the default settings: {training / 60:.1f} min (target <= 15)")
    print(card.to_markdown())
    margin = 100 * (model["knn"] - pca["knn"])
    print(f"k-NN accuracy, morphology:        {model['knn']:.3f} (target >= 0.90)")
    print(f"k-NN accuracy, 10 classes:        {by_class.row('morphospace')['knn']:.3f}")
    print(f"raw-pixel PCA k-NN, morphology:   {pca['knn']:.3f}; margin {margin:+.1f} points "
          "(target >= +15)")  # fmt: skip
    for param in ("inclination", "ring_radius_rel"):
        print(f"R² {param:17s}             {model[f'r2:{param}']:.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
