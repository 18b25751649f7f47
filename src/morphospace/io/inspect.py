"""Dry run: what would go into training, and every problem, one line per file."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from morphospace.choices import MIN_SIDE, ON_ERROR, OnError
from morphospace.io.fits import ImageMeta, SkyImage
from morphospace.io.reader import Problem, read_many
from morphospace.io.sources import find_sources
from morphospace.io.stacks import open_stack, split_address

__all__ = ["Inventory", "format_inventory", "take_inventory", "write_inventory"]


@dataclass
class Inventory:
    """Metadata of every readable object and the problems with the rest."""

    metas: list[ImageMeta]
    problems: list[Problem]
    stacks: list[str] = field(default_factory=list)  # one line per cutout stack read

    @property
    def n_files(self) -> int:
        return len(self.metas) + len(self.problems)


def take_inventory(
    specs: str | Path | Iterable[str | Path],
    *,
    hdu: int | str | None = None,
    min_side: int = MIN_SIDE,
    on_error: OnError = ON_ERROR,
    workers: int | None = None,
) -> Inventory:
    """Read every source and collect its metadata; bad files are listed (``"fail"`` raises)."""
    paths = find_sources(specs)
    result = read_many(
        paths, hdu=hdu, min_side=min_side, on_error=on_error, transform=_metadata, workers=workers
    )
    files = dict.fromkeys(a[0] for a in map(split_address, paths) if a is not None)
    stacks = [f"{file}: {open_stack(file).describe()}" for file in files]
    return Inventory(metas=result.items, problems=result.problems, stacks=stacks)


def _metadata(image: SkyImage) -> ImageMeta:
    return image.meta


def _span(values: list[float], fmt: str = "{:.3g}") -> str:
    if not values:
        return "none"
    low, mid, high = np.percentile(values, [0, 50, 100])
    return f"{fmt.format(low)} to {fmt.format(high)} (median {fmt.format(mid)})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def format_inventory(inventory: Inventory) -> str:
    """A short human-readable summary followed by one line per problem."""
    metas = inventory.metas
    cubes = [m for m in metas if len(m.shape) == 3]
    sources = _count(inventory.n_files, "file")
    if inventory.stacks:
        sources = (
            f"{_count(inventory.n_files, 'object')} ({_count(len(inventory.stacks), 'stack')})"
        )
    lines = [
        f"{sources}: {_count(len(metas), 'object')} readable, "
        f"{len(inventory.problems)} with problems"
    ]
    lines += [f"  stack:         {line}" for line in inventory.stacks]
    if metas:
        sides = [float(s) for m in metas for s in m.shape[-2:]]
        scales = [m.pixel_scale for m in metas if m.pixel_scale is not None]
        beams = [m.beam.fwhm for m in metas if m.beam is not None]
        nan = [m.nan_fraction for m in metas]
        units = Counter(m.bunit or "(no BUNIT)" for m in metas)
        lines += [
            f"  kinds:         {len(metas) - len(cubes)} images, {len(cubes)} cubes",
            f"  image sides:   {_span(sides, '{:.0f}')} px",
        ]
        if cubes:
            channels = [float(m.shape[0]) for m in cubes]
            spectral = Counter(m.spectral.ctype if m.spectral else "none" for m in cubes)
            lines.append(
                f"  channels:      {_span(channels, '{:.0f}')}; spectral axes: "
                + ", ".join(f"{k} ({v})" for k, v in spectral.most_common())
            )
        lines += [
            f"  pixel scale:   {_span(scales)} arcsec; "
            f"{len(metas) - len(scales)} without WCS scale",
            f"  beam FWHM:     {_span(beams)} arcsec; {len(metas) - len(beams)} without beam",
            f"  NaN fraction:  mean {np.mean(nan):.1%}, max {np.max(nan):.1%}; "
            f"{sum(f > 0 for f in nan)} objects have blank pixels",
            "  units:         " + ", ".join(f"{k} ({v})" for k, v in units.most_common(5)),
        ]
    if inventory.problems:
        lines.append("problems:")
        lines += [f"  {p}" for p in inventory.problems]
    return "\n".join(lines)


def write_inventory(inventory: Inventory, path: str | Path) -> Path:
    """Write one row of metadata per readable object to a CSV file."""
    path = Path(path)
    rows = [m.as_row() for m in inventory.metas]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)
    return path
