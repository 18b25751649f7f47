"""The colours of categories (clusters, classes), one list for every picture of a run.

The explorer's page (``frontend/src/colours.js``, ``PALETTE``), the report's PNG maps and
the DS9/CARTA regions colour categories by one rule (:func:`category_colours`): a whole
number n (cluster n) gets the n-th colour of :data:`CATEGORY_COLOURS` and -1 (objects no
cluster claims) :data:`NOISE_COLOUR`; names (classes, labels) get the colours in
alphabetical order. The list is Tableau 10 then matplotlib's tab10, 20 colours that all
differ, so up to 20 categories never share one. ``tests/test_report.py`` checks that the
page's list and rule are these.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CATEGORY_COLOURS", "NOISE_COLOUR", "category_colour", "category_colours"]

CATEGORY_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: Objects no cluster claims (cluster -1).
NOISE_COLOUR = "#808080"


def category_colour(index: int) -> str:
    """The colour of the ``index``-th category; past 20 the list starts again."""
    return CATEGORY_COLOURS[index % len(CATEGORY_COLOURS)]


def category_colours(values: Iterable[object]) -> dict[str, str]:
    """The colour of each distinct value (as text), by the rule of the module: whole numbers
    by their value (-1 is noise), other names by their alphabetical place."""
    names = sorted({str(v) for v in values})
    numbers = [_whole(name) for name in names]
    if all(n is not None for n in numbers):
        return {
            name: NOISE_COLOUR if n < 0 else category_colour(n)
            for name, n in zip(names, numbers, strict=True)
        }
    return {name: category_colour(index) for index, name in enumerate(names)}


def _whole(text: str) -> int | None:
    """The whole number ``text`` writes ("4", "4.0"), or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None
