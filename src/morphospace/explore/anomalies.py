"""Anomaly scores: isolation forest, local outlier factor and k-NN distance, combined.

Each detector scores every object (higher = more unusual); the combined ``anomaly`` score
is the mean of the three percentile ranks, so no single detector's scale dominates, and
``anomaly_rank`` 1 is the most unusual object.

Unusual is not the same as interesting: artefacts, blank cutouts and bright stars are
unusual too. :func:`rerank` lets a user's "interesting" / "not interesting" marks on a few
objects re-rank the rest, as astronomaly's human-in-the-loop ranking does: a k-NN
regression of the marks on the embedding predicts how interesting every object is, and
that prediction scales its anomaly score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import KNeighborsRegressor, LocalOutlierFactor

from morphospace.explore.search import GRAPH_PAIRS, SimilarityIndex, normalise

__all__ = [
    "ANOMALY_NEIGHBOURS",
    "CHUNK",
    "UNINTERESTING_WEIGHT",
    "OutlierFactor",
    "anomaly_scores",
    "rerank",
]

#: Objects scored (or placed) per step when the detectors learnt from a sample.
CHUNK = 50_000
#: The neighbours of an object that its local outlier factor and k-NN distance look at.
ANOMALY_NEIGHBOURS = 10


def anomaly_scores(
    embeddings: np.ndarray,
    k: int = ANOMALY_NEIGHBOURS,
    seed: int = 0,
    fit: np.ndarray | None = None,
    index: SimilarityIndex | None = None,
    found: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Columns ``anomaly_iforest``, ``anomaly_lof``, ``anomaly_knn``, ``anomaly`` (0-1) and
    ``anomaly_rank`` (1 = most unusual), one row per embedding.

    ``fit`` (row numbers) names the objects the detectors learn from, a sample of a large
    table (:data:`~morphospace.choices.FIT_SAMPLE`): the others are scored against them, as
    new objects would be. By default every object is learnt from. A caller that has the
    search index of the ``fit`` rows (``index``), or has already found the ``k`` fitted
    objects nearest each other row (``found``: their positions in ``fit`` and their
    similarities, the other rows in increasing order), passes them on instead of having
    them made again.
    """
    x = normalise(embeddings)
    n = len(x)
    if fit is not None and len(fit) < n:
        return _scores_from_sample(x, np.asarray(fit), k, seed, index, found)
    if n < 3:
        zeros = np.zeros(n)
        return pd.DataFrame(
            {
                "anomaly_iforest": zeros,
                "anomaly_lof": zeros,
                "anomaly_knn": zeros,
                "anomaly": zeros,
                "anomaly_rank": np.arange(1, n + 1),
            }
        )
    k = min(k, n - 1)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x)
    iforest = -forest.score_samples(x)
    lof = -LocalOutlierFactor(n_neighbors=k, metric="cosine").fit(x).negative_outlier_factor_
    _, similarity = SimilarityIndex(x).neighbours(k)
    knn = 1.0 - similarity.mean(axis=1)  # mean cosine distance to the k nearest objects
    return _combined({"anomaly_iforest": iforest, "anomaly_lof": lof, "anomaly_knn": knn})


def _scores_from_sample(
    x: np.ndarray,
    fit: np.ndarray,
    k: int,
    seed: int,
    index: SimilarityIndex | None,
    found: tuple[np.ndarray, np.ndarray] | None,
) -> pd.DataFrame:
    """The three detectors fitted on the rows ``fit``; every row scored, in chunks. The
    local outlier factor and the k-NN distance come from one neighbour search."""
    rest = np.setdiff1d(np.arange(len(x)), fit)
    k = min(k, len(fit) - 1)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x[fit])
    index = index if index is not None else SimilarityIndex(x[fit])
    iforest, outlier, knn = (np.empty(len(x)) for _ in range(3))
    near, similarity = index.neighbours(k)
    lof = OutlierFactor.fit(near, 1.0 - similarity)
    outlier[fit] = lof.of_fitted
    knn[fit] = 1.0 - similarity.mean(axis=1)
    graph = len(rest) * len(fit) >= GRAPH_PAIRS  # one neighbour search serves both scores
    for start in range(0, len(rest), CHUNK):
        rows = rest[start : start + CHUNK]
        if found is not None:
            near, similarity = (part[start : start + CHUNK, :k] for part in found)
        else:
            near, similarity = index.query(x[rows], k, graph=graph)
        outlier[rows] = lof.of_new(near, 1.0 - similarity)
        knn[rows] = 1.0 - similarity.mean(axis=1)
    for start in range(0, len(x), CHUNK):
        iforest[start : start + CHUNK] = -forest.score_samples(x[start : start + CHUNK])
    return _combined({"anomaly_iforest": iforest, "anomaly_lof": outlier, "anomaly_knn": knn})


class OutlierFactor:
    """The local outlier factor (Breunig et al. 2000, scikit-learn's formula) of fitted
    objects and of new ones, from neighbours already found rather than from a search of
    its own: each fitted object's ``k`` nearest other fitted objects ``near`` at cosine
    ``distance`` (:meth:`fit`)."""

    def __init__(self, k_distance: np.ndarray, density: np.ndarray, of_fitted: np.ndarray):
        self.k_distance = k_distance  # distance of each fitted object to its k-th neighbour
        self.density = density  # local reachability density of each fitted object
        self.of_fitted = of_fitted  # the factor of each fitted object

    @classmethod
    def fit(cls, near: np.ndarray, distance: np.ndarray) -> OutlierFactor:
        k_distance = distance[:, -1]
        density = _density(near, distance, k_distance)
        return cls(k_distance, density, (density[near] / density[:, None]).mean(axis=1))

    def of_new(self, near: np.ndarray, distance: np.ndarray) -> np.ndarray:
        """The factor of new objects whose k nearest fitted objects lie at ``distance``."""
        return (self.density[near] / _density(near, distance, self.k_distance)[:, None]).mean(
            axis=1
        )


def _density(near: np.ndarray, distance: np.ndarray, k_distance: np.ndarray) -> np.ndarray:
    reachability = np.maximum(distance, k_distance[near])
    return 1.0 / (reachability.mean(axis=1) + 1e-10)


def _combined(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(scores.values())))
    combined = np.mean([rankdata(v) / n for v in scores.values()], axis=0)
    rank = rankdata(-combined, method="ordinal").astype(int)
    return pd.DataFrame({**scores, "anomaly": combined, "anomaly_rank": rank})


#: How much of its anomaly score an object predicted to be of no interest keeps.
UNINTERESTING_WEIGHT = 0.1


def rerank(
    embeddings: np.ndarray, anomaly: np.ndarray, marks: np.ndarray, k: int = 10
) -> pd.DataFrame:
    """Anomaly scores re-ranked by a user's marks.

    Parameters
    ----------
    embeddings : ndarray, shape (N, D)
    anomaly : ndarray, shape (N,)
        The unsupervised score (the ``anomaly`` column), higher = more unusual.
    marks : ndarray, shape (N,)
        1 for "interesting", 0 for "not interesting", NaN for objects not marked.
    k : int
        Marked neighbours whose marks are averaged (cosine, weighted by closeness).

    Returns
    -------
    DataFrame
        ``anomaly_interest`` (0-1: the object's own mark, or the prediction from its marked
        neighbours), ``anomaly_reranked`` (``anomaly`` scaled by 0.1 + 0.9 × interest) and
        ``anomaly_reranked_rank`` (1 = the most unusual object of interest).

    Raises
    ------
    ValueError
        Without any mark, or with a mark other than 0 and 1.
    """
    marks = np.asarray(marks, dtype=float)
    marked = np.flatnonzero(np.isfinite(marks))
    if len(marked) == 0:
        raise ValueError("no object is marked interesting (1) or not (0)")
    if not np.isin(marks[marked], (0.0, 1.0)).all():
        raise ValueError("marks must be 1 (interesting) or 0 (not interesting)")
    x = normalise(embeddings)
    regression = KNeighborsRegressor(
        n_neighbors=min(k, len(marked)), weights="distance", metric="cosine"
    ).fit(x[marked], marks[marked])
    interest = regression.predict(x)
    interest[marked] = marks[marked]
    reranked = np.asarray(anomaly, dtype=float) * (
        UNINTERESTING_WEIGHT + (1 - UNINTERESTING_WEIGHT) * interest
    )
    rank = rankdata(-reranked, method="ordinal").astype(int)
    return pd.DataFrame(
        {"anomaly_interest": interest, "anomaly_reranked": reranked, "anomaly_reranked_rank": rank}
    )
