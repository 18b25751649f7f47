"""The colours of categories (clusters, classes), one list for every picture of a run.

The explorer's page (``frontend/src/viewer.js``, ``PALETTE``), the report's PNG maps and
the DS9/CARTA regions give the i-th category, in natural order (cluster 0, 1, … 10; class
names alphabetically), the i-th colour of :data:`CATEGORY_COLOURS`: Tableau 10 then
matplotlib's tab10, 20 colours that all differ, so up to 20 categories never share one.
``tests/test_report.py`` checks that the page's list is this one.
"""

from __future__ import annotations

__all__ = ["CATEGORY_COLOURS", "NOISE_COLOUR", "category_colour"]

CATEGORY_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: Objects no cluster claims (cluster -1).
NOISE_COLOUR = "grey"


def category_colour(index: int) -> str:
    """The colour of the ``index``-th category; past 20 the list starts again."""
    return CATEGORY_COLOURS[index % len(CATEGORY_COLOURS)]
