"""Static figures (matplotlib): the thumbnail map, coloured maps, galleries, dendrogram.

Each function writes a PNG to ``path`` and returns the path, or with ``path=None`` returns
the :class:`~matplotlib.figure.Figure` itself (for a notebook). Figures are built without
pyplot, so no backend is chosen and a notebook's own is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import dendrogram

from morphospace.choices import COLOUR_MAP
from morphospace.files import atomic_write
from morphospace.report.palette import category_colours

__all__ = [
    "BACKGROUND",
    "gallery",
    "hierarchy_figure",
    "in_rows",
    "natural_key",
    "scatter_map",
    "thumbnail_map",
]

BACKGROUND = "#101418"


def _save(figure: Figure, path: Path | None) -> Any:
    """The PNG written to ``path`` (its path), or the figure itself when there is no path."""
    if path is None:
        return figure
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    return path


def _subplots(*grid: int, **options: Any):
    figure = Figure(figsize=options.pop("figsize"), facecolor=options.pop("facecolor", "white"))
    return figure, figure.subplots(*grid, **options)


def _unit(xy: np.ndarray) -> np.ndarray:
    """The map scaled alike on both axes so that its longer side spans [0, 1]: the layout
    keeps its true shape."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = float(np.max(high - low))
    return (xy - low) / (span if span > 0 else 1.0)


def thumbnail_map(xy: np.ndarray, thumbs: np.ndarray, path: Path | None, cells: int = 24) -> Any:
    """Thumbnails laid on a grid over the 2-D map: in each occupied cell, the object nearest
    the cell's centre (as in the t-SNE figures of the astromorph paper)."""
    unit = _unit(xy)
    figure, axes = _subplots(figsize=(12, 12), facecolor=BACKGROUND)
    axes.set_facecolor(BACKGROUND)
    axes.scatter(unit[:, 0], unit[:, 1], s=2, c="#5c6b7a", zorder=0)
    sides = np.maximum(np.ceil(unit.max(axis=0) * cells).astype(int), 1)  # square cells
    cell = np.minimum((unit * cells).astype(int), sides - 1)
    centre = (cell + 0.5) / cells
    distance = np.linalg.norm(unit - centre, axis=1)
    chosen: dict[tuple[int, int], int] = {}
    for index in np.argsort(distance):
        chosen.setdefault((int(cell[index, 0]), int(cell[index, 1])), int(index))
    for (cx, cy), index in chosen.items():
        extent = (cx / cells, (cx + 1) / cells, cy / cells, (cy + 1) / cells)
        axes.imshow(thumbs[index], cmap=COLOUR_MAP, extent=extent, zorder=1)
    axes.set_xlim(0, sides[0] / cells)
    axes.set_ylim(0, sides[1] / cells)
    axes.set_aspect("equal")
    axes.set_axis_off()
    axes.set_title(f"{len(xy)} objects, one thumbnail per occupied cell", color="white")
    return _save(figure, path)


def scatter_map(
    xy: np.ndarray, values: np.ndarray, path: Path | None, title: str, categorical: bool
) -> Any:
    """The 2-D map with each object coloured by a cluster label or a metadata column."""
    figure, axes = _subplots(figsize=(9, 8))
    if categorical:
        labels = np.asarray(values).astype(str)
        colours = category_colours(labels)
        for label in sorted(colours, key=natural_key):
            members = labels == label
            axes.scatter(xy[members, 0], xy[members, 1], s=8, label=label, color=colours[label])
        if len(set(labels)) <= 20:
            axes.legend(markerscale=2, fontsize=8, loc="best", title=title)
    else:
        numbers = np.asarray(values, dtype=float)
        finite = np.isfinite(numbers)
        axes.scatter(xy[~finite, 0], xy[~finite, 1], s=6, c="lightgrey", label="no value")
        points = axes.scatter(xy[finite, 0], xy[finite, 1], s=8, c=numbers[finite], cmap="viridis")
        figure.colorbar(points, ax=axes, label=title)
    axes.set_aspect("equal")  # the map's true shape, as on the page
    axes.set_title(f"map coloured by {title}")
    axes.set_xticks([])
    axes.set_yticks([])
    return _save(figure, path)


def gallery(
    thumbs: np.ndarray,
    rows: Sequence[Sequence[int]],
    path: Path | None,
    title: str,
    row_labels: Sequence[str] | None = None,
    captions: dict[int, str] | None = None,
) -> Any:
    """A grid of thumbnails: one row per group (e.g. a cluster), objects given by index."""
    n_rows = max(1, len(rows))
    n_cols = max(1, max((len(r) for r in rows), default=1))
    figure, grid = _subplots(
        n_rows, n_cols, figsize=(1.4 * n_cols + 1.2, 1.5 * n_rows + 0.6), squeeze=False
    )
    for r, members in enumerate(rows):
        for c in range(n_cols):
            axes = grid[r, c]
            axes.set_xticks([])
            axes.set_yticks([])
            for spine in axes.spines.values():
                spine.set_visible(False)
            if c < len(members):
                axes.imshow(thumbs[members[c]], cmap=COLOUR_MAP)
                if captions and members[c] in captions:
                    axes.set_title(captions[members[c]], fontsize=7)
        if row_labels:
            grid[r, 0].set_ylabel(row_labels[r], fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def hierarchy_figure(
    linkage: np.ndarray,
    leaf_members: np.ndarray,
    thumbs: np.ndarray,
    exemplar_of,
    path: Path | None,
) -> Any:
    """The class hierarchy: a dendrogram cut to its top branches, each with an exemplar.

    ``leaf_members`` maps each leaf of ``linkage`` to objects (itself, or its micro-cluster);
    ``exemplar_of(objects)`` picks the object that best represents a branch.
    """
    leaves = linkage.shape[0] + 1
    branches = min(12, leaves)
    figure, (top, bottom) = _subplots(
        2, 1, figsize=(max(8, 1.3 * branches), 7), height_ratios=(3, 1)
    )
    tree = dendrogram(
        linkage, truncate_mode="lastp", p=branches, ax=top, no_labels=True, color_threshold=0
    )
    top.set_title("class hierarchy (Ward linkage); exemplar of each branch below")
    top.set_yticks([])
    # which original leaves sit under each truncated branch, in plotting order
    members = _branch_leaves(linkage)
    bottom.set_xlim(top.get_xlim())
    bottom.set_ylim(0, 1)
    bottom.set_axis_off()
    for position, node in enumerate(tree["leaves"]):
        x = 5 + 10 * position  # scipy draws leaf i at x = 5 + 10 i
        objects = np.flatnonzero(np.isin(leaf_members, members[node]))
        if len(objects) == 0:
            continue
        index = exemplar_of(objects)
        bottom.imshow(thumbs[index], cmap=COLOUR_MAP, extent=(x - 4, x + 4, 0.1, 0.9))
        bottom.text(x, 0.0, f"n={len(objects)}", ha="center", va="top", fontsize=8)
    bottom.set_aspect("auto")
    return _save(figure, path)


def _branch_leaves(linkage: np.ndarray) -> dict[int, list[int]]:
    """For every node id of the linkage, the original leaves below it."""
    n = linkage.shape[0] + 1
    below: dict[int, list[int]] = {i: [i] for i in range(n)}
    for step, (a, b, *_rest) in enumerate(linkage):
        below[n + step] = below[int(a)] + below[int(b)]
    return below


def natural_key(label: str) -> tuple:
    """Sort key putting numeric labels first, in numeric order ("2" before "10")."""
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)


def in_rows(indices, per_row: int) -> list[list[int]]:
    """Split a sequence of object indices into gallery rows of ``per_row``."""
    indices = [int(i) for i in indices]
    return [indices[i : i + per_row] for i in range(0, len(indices), per_row)]
