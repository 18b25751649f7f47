"""How much of the ring-radius label the images show: a direct measurement with the truth.

    python benchmarks/ring_radius_ceiling.py [--data .bench/quality/standard/data]

For each ringed disk of a synthetic set (made by ``benchmarks/quality_synthetic.py``), the
image is deprojected with the disk's *true* inclination, position angle and radius from
``labels.csv``. Its azimuthally averaged profile is then searched for its brightest point
between 0.3 and 0.85 disk radii, which is where the generator puts the labelled ring. The
R² of that radius against ``ring_radius_rel`` is printed, overall, by how many beams span
the disk radius, and for disks with a single ring.

No embedding can be expected to do much better than this measurement, which is handed the
geometry that an embedding has to infer. The label is the brightest ring of the model
*before* the beam. Once the beam has blurred neighbouring rings and gaps together, or has
smeared a narrow ring below the disk, the brightest ring in the image can be another one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from morphospace.io import read_fits
from morphospace.synth.shapes import disk_frame

SEARCH = (0.3, 0.85)  # disk radii: the generator draws the labelled ring in 0.35-0.8


def brightest_ring(row: pd.Series, data: Path) -> float:
    """Radius (in disk radii) of the brightest point of the deprojected radial profile."""
    image = np.nan_to_num(read_fits(data / row.path).data.astype(float))
    emission = np.clip(image - np.median(image), 0, None)
    rows, cols = np.indices(image.shape)
    total = emission.sum()
    centre_y, centre_x = (emission * rows).sum() / total, (emission * cols).sum() / total
    x = (centre_x - cols) * row.pixel_scale  # east to the left, as the generator draws it
    y = (rows - centre_y) * row.pixel_scale
    radius, _ = disk_frame(x, y, row.pa, row.inclination)
    edges = np.linspace(*SEARCH, 23)
    ring = np.digitize((radius / row.radius).ravel(), edges)
    flat = emission.ravel()
    profile = [flat[ring == k].mean() if (ring == k).any() else 0.0 for k in range(1, len(edges))]
    return float((edges[:-1] + edges[1:])[int(np.argmax(profile))] / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".bench/quality/standard/data"))
    args = parser.parse_args()
    labels = pd.read_csv(args.data / "labels.csv")
    rings = labels[labels["class"] == "ringed_disk"]
    measured = np.array([brightest_ring(row, args.data) for _, row in rings.iterrows()])
    truth = rings["ring_radius_rel"].to_numpy(float)
    beams = (rings["radius"] / np.sqrt(rings["bmaj"] * rings["bmin"])).to_numpy()
    print(f"{len(rings)} ringed disks in {args.data}")
    print(f"direct measurement with the true geometry: R² {r2_score(truth, measured):.3f}")
    for low, high in ((0, 6), (6, 10), (10, np.inf)):
        chosen = (beams >= low) & (beams < high)
        print(
            f"  disk radius {low}-{high} beams: {chosen.sum()} disks, "
            f"R² {r2_score(truth[chosen], measured[chosen]):.3f}"
        )
    single = rings["n_rings"].to_numpy() == 1
    r2_single = r2_score(truth[single], measured[single])
    print(f"  one ring only: {single.sum()} disks, R² {r2_single:.3f}")


if __name__ == "__main__":
    main()
