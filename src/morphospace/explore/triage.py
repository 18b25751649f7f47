"""Triage: one object at a time, in a chosen order, as astronomaly's loop goes.

The user sees the next object not yet seen in the order, labels or marks it (or skips it),
and goes on. In the ``reranked`` order the anomaly scores are re-ranked by the marks
(:func:`~morphospace.explore.anomalies.rerank`) every :data:`~morphospace.choices.RERANK_EVERY`
marks, so the unseen objects most like those marked interesting come next.

:func:`triage_order` is the one ranking, used by the explorer and by
``benchmarks/triage.py``; the objects seen are kept in ``RUN/triage.csv`` (id, and the
order they were seen in), so that leaving and coming back resumes where the user stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from morphospace.choices import TRIAGE_ORDERS, TriageOrder, check_choice
from morphospace.explore.anomalies import rerank
from morphospace.explore.propagate import propagate

__all__ = ["next_unseen", "triage_order"]


def triage_order(
    order: TriageOrder,
    embeddings: np.ndarray,
    anomaly: np.ndarray,
    *,
    marks: np.ndarray | None = None,
    labels: Sequence[object] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Every row number, in the order triage shows them.

    Parameters
    ----------
    order : {"anomaly", "reranked", "uncertain", "random"}
        ``reranked`` without any mark is the anomaly order; ``uncertain`` needs labels of
        two classes (the least certain propagated label first).
    embeddings : ndarray, shape (N, D)
    anomaly : ndarray, shape (N,)
        The anomaly score, higher = more unusual.
    marks : ndarray, optional
        1 interesting, 0 not, NaN unmarked (for ``reranked``).
    labels : sequence, optional
        Each object's label, None where it has none (for ``uncertain``).
    seed : int
        Of the ``random`` order.

    Raises
    ------
    ValueError
        ``uncertain`` without labels of two classes.
    """
    check_choice("order", order, TRIAGE_ORDERS)
    n = len(anomaly)
    if order == "random":
        return np.random.default_rng(seed).permutation(n)
    if order == "uncertain":
        found = propagate(embeddings, labels if labels is not None else [None] * n, suggest=0)
        return np.argsort(found.probability, kind="stable")
    score = np.asarray(anomaly, dtype=float)
    if order == "reranked" and marks is not None and np.isfinite(marks).any():
        score = rerank(embeddings, score, marks)["anomaly_reranked"].to_numpy()
    return np.argsort(-score, kind="stable")


def next_unseen(order: np.ndarray, seen: np.ndarray) -> int | None:
    """The first row of ``order`` not marked in the boolean ``seen``; None when all are."""
    unseen = order[~seen[order]]
    return int(unseen[0]) if len(unseen) else None
