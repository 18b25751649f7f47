"""Ablations: train variants that differ from the defaults in one setting each, one table.

    python benchmarks/ablation.py                    # 1,000 synthetic objects, 30 epochs each
    python benchmarks/ablation.py --epochs 80 --only default,no_crop
    python benchmarks/ablation.py --data data/first-dev --label-column class --epochs auto \
        --work .bench/ablation-first --only default,gentle_crops --reuse   # real cutouts

``--data`` names a labelled set (``images/`` and ``labels.csv``, whose rows name the files
by ``path`` or by ``name``); without it a synthetic set is made. ``--reuse`` keeps a
variant's run that is already trained (its training time read from its logs).

Every variant trains on the same synthetic set with the same seed and schedule, is
embedded with the same settings (unless the variant is about embedding), and is scored
with the same folds: k-NN and linear-probe accuracy on the morphologies, and the
cross-validated R² of inclination and ring radius. Variants about inference (no
test-time averaging, no whitening) reuse the default run's weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from morphospace.config import load_settings
from morphospace.embed import Embedder
from morphospace.evaluate import score_embedding
from morphospace.synth import synthesize
from morphospace.train import Trainer

STEPS = ("channels", "cap_size", "fill", "crop", "noise_stretch", "normalise")


def steps(*names: str) -> list[dict[str, str]]:
    return [{"step": name} for name in names]


#: name -> (what changes, settings overrides); "default" is the reference.
TRAINED: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("the defaults", {}),
    "no_crop": (
        "no crop to the emission",
        {"preprocess.steps": steps(*(s for s in STEPS if s != "crop"))},
    ),
    "range_stretch": (
        "percentile clip + asinh of the range instead of the noise-unit stretch",
        {
            "preprocess.steps": steps(
                "channels", "cap_size", "fill", "crop", "clip", "stretch", "normalise"
            )
        },
    ),
    "no_rotation": ("no rotation augmentation", {"augment.rotate": False}),
    "view_48": ("48 px views (the previous default)", {"augment.view_size": 48}),
    "view_64": ("64 px views", {"augment.view_size": 64}),
    "gentle_crops": (
        "crops of 60-100 % of the object, not 25-100 %",
        {"augment.crop_scale": [0.6, 1.0]},
    ),
    "no_stretch_jitter": ("no stretch jitter", {"augment.stretch": 0.0}),
    "no_blur": ("no blur augmentation", {"augment.blur_p": 0.0}),
    "no_noise": ("no added noise", {"augment.noise_p": 0.0}),
    "low_lr": ("a quarter of the learning rate (5e-4)", {"train.learning_rate": 5e-4}),
    "lars": ("the LARS optimiser instead of AdamW", {"train.optimizer": "lars"}),
    "gentle_crops_no_blur": (
        "gentler crops and no blur, together",
        {"augment.crop_scale": [0.6, 1.0], "augment.blur_p": 0.0},
    ),
    "variance": (
        "a VICReg-style variance term (weight 1) added to the BYOL loss",
        {"model.variance_weight": 1.0},
    ),
    "layer3": ("ResNet-18 cut after layer3, not layer2", {"model.backbone": "resnet18:layer3"}),
    "astro_cnn": ("the small astronomy CNN", {"model.backbone": "astro_cnn"}),
}
#: name -> (what changes, Embedder options) on the default run's weights.
INFERENCE: dict[str, tuple[str, dict[str, Any]]] = {
    "no_tta": ("no test-time averaging", {"tta": False}),
    "no_whitening": ("no whitening of the embedding", {"whiten": False}),
}


def embed_in_label_order(
    run: Path, images: Path, labels: pd.DataFrame, **options: Any
) -> np.ndarray:
    """Embed a run's objects (``whiten=False`` to skip the whitening), in labels.csv order."""
    whiten = options.pop("whiten", True)
    embedder = Embedder.from_run(run, **options)
    if not whiten:
        embedder.byol.whitening.reset()
    objects = embedder.load(images, cache_dir=run / "cache")
    order = {Path(meta.path).name: i for i, meta in enumerate(objects.metas)}
    vectors = embedder.transform(objects.arrays)
    files = labels["path"] if "path" in labels else labels["name"] + ".fits"
    return vectors[[order[Path(p).name] for p in files]]


def trained_minutes(run: Path) -> float:
    """A finished run's training time, from its per-epoch log."""
    epochs = pd.read_csv(run / "logs" / "epochs.csv")
    return float(epochs["seconds"].sum()) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--epochs", default="30", help='epochs per variant, or "auto"')
    parser.add_argument("--only", default=None, help="comma-separated variant names")
    parser.add_argument("--work", type=Path, default=Path(".bench/ablation"))
    parser.add_argument("--data", type=Path, default=None, help="a labelled set to use")
    parser.add_argument("--label-column", default="morphology")
    parser.add_argument("--reuse", action="store_true", help="keep variants already trained")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else set(TRAINED) | set(INFERENCE)
    epochs = args.epochs if args.epochs == "auto" else int(args.epochs)

    data = args.data or args.work / "data"
    if not (data / "labels.csv").exists():
        synthesize(data, args.n, seed=0)
    labels = pd.read_csv(data / "labels.csv")
    y = labels[args.label_column].to_numpy(str)
    params = {
        name: labels[name].to_numpy(float)
        for name in ("inclination", "ring_radius_rel")
        if name in labels
    }
    rows = []
    for name, (change, overrides) in TRAINED.items():
        if name not in chosen and not (name == "default" and chosen & set(INFERENCE)):
            continue
        run = args.work / name
        if args.reuse and (run / "model.json").exists():
            minutes = trained_minutes(run)
        else:
            settings = load_settings(
                None, {"data.sources": [str(data / "images")], "train.epochs": epochs, **overrides}
            )
            start = time.perf_counter()
            Trainer(settings, run, progress=False).fit()
            minutes = (time.perf_counter() - start) / 60
        vectors = embed_in_label_order(run, data / "images", labels)
        rows.append({"variant": name, "change": change, "train min": minutes,
                     **score_embedding(name, vectors, y, params)})  # fmt: skip
        print(f"{name}: k-NN {rows[-1]['knn']:.3f}", flush=True)
    for name, (change, options) in INFERENCE.items():
        if name in chosen:
            vectors = embed_in_label_order(
                args.work / "default", data / "images", labels, **options
            )
            rows.append({"variant": name, "change": change, "train min": float("nan"),
                         **score_embedding(name, vectors, y, params)})  # fmt: skip
    columns = ["variant", "change", "train min", "knn", "linear", *(f"r2:{p}" for p in params)]
    print(f"\n{len(labels)} objects of {data}, {args.epochs} epochs each, "
          f"labels: {args.label_column}\n")  # fmt: skip
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
