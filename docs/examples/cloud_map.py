"""Make a synthetic infrared-dark-cloud survey map and its source catalogue.

Usage: python docs/examples/cloud_map.py OUTDIR [--sources 300] [--seed 1]

Writes ``OUTDIR/cloud_map.fits`` (a Galactic-plane map, 6 arcsec pixels, an 18 arcsec
beam, correlated noise) with clumps of five kinds (filaments, hub-filament systems,
cores, shells and clumpy cloudlets) scattered over it, and ``OUTDIR/clumps.csv``: one row
per clump with its Galactic position (``glon``, ``glat``) and its true ``class``. It is
the input of the second worked example in ``docs/exploring.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.ndimage import gaussian_filter

from morphospace.synth.shapes import MODELS

KINDS = ("filament", "hub_filament", "core", "shell", "clumpy")
PIXEL_ARCSEC = 6.0
BEAM_ARCSEC = 18.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    side = int(np.ceil(np.sqrt(args.sources))) * 80 + 80  # ~80 px between clumps
    sky = np.zeros((side, side))
    rows = []
    spacing = (side - 80) / int(np.ceil(np.sqrt(args.sources)))
    cells = [
        (i, j)
        for i in range(int(np.ceil(np.sqrt(args.sources))))
        for j in range(int(np.ceil(np.sqrt(args.sources))))
    ]
    for index, (i, j) in enumerate(cells[: args.sources]):
        kind = KINDS[index % len(KINDS)]
        cx = 40 + (i + 0.5) * spacing + rng.uniform(-8, 8)
        cy = 40 + (j + 0.5) * spacing + rng.uniform(-8, 8)
        radius = rng.uniform(8, 22) * PIXEL_ARCSEC  # arcsec
        box = int(3 * radius / PIXEL_ARCSEC)
        y0, x0 = int(cy) - box, int(cx) - box
        yy, xx = np.mgrid[y0 : y0 + 2 * box, x0 : x0 + 2 * box].astype(float)
        model, _ = MODELS[kind][1]((cx - xx) * PIXEL_ARCSEC, (yy - cy) * PIXEL_ARCSEC, rng, radius)
        sky[y0 : y0 + 2 * box, x0 : x0 + 2 * box] += (
            model / max(model.max(), 1e-12) * rng.uniform(0.5, 2.0)
        )
        rows.append(
            {"name": f"clump_{index:04d}", "x": cx, "y": cy, "class": kind, "radius_arcsec": radius}
        )
    sigma_px = BEAM_ARCSEC / PIXEL_ARCSEC / 2.3548
    sky = gaussian_filter(sky, sigma_px)
    noise = gaussian_filter(rng.normal(size=sky.shape), sigma_px)
    sky += 0.03 * noise / noise.std() + 0.05  # faint diffuse background

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    wcs.wcs.crval = [30.0, 0.0]
    wcs.wcs.crpix = [side / 2, side / 2]
    wcs.wcs.cdelt = [-PIXEL_ARCSEC / 3600, PIXEL_ARCSEC / 3600]
    header = wcs.to_header()
    header["BUNIT"] = "MJy/sr"
    header["BMAJ"] = header["BMIN"] = BEAM_ARCSEC / 3600
    header["OBJECT"] = "synthetic cloud field"
    args.outdir.mkdir(parents=True, exist_ok=True)
    fits.writeto(args.outdir / "cloud_map.fits", sky.astype(np.float32), header, overwrite=True)

    glon, glat = wcs.pixel_to_world_values([r["x"] for r in rows], [r["y"] for r in rows])
    lines = ["name,glon,glat,class,radius_arcsec"]
    lines += [f"{r['name']},{lon:.6f},{lat:.6f},{r['class']},{r['radius_arcsec']:.1f}"
              for r, lon, lat in zip(rows, glon, glat, strict=True)]  # fmt: skip
    (args.outdir / "clumps.csv").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.outdir / 'cloud_map.fits'} ({side}x{side} px) and "
          f"{args.outdir / 'clumps.csv'} ({len(rows)} clumps)")  # fmt: skip


if __name__ == "__main__":
    main()
