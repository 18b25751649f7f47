"""Anomaly scores: isolation forest, local outlier factor and k-NN distance, combined.

Each detector scores every object (higher = more unusual); the combined ``anomaly`` score
is the mean of the three percentile ranks, so no single detector's scale dominates, and
``anomaly_rank`` 1 is the most unusual object.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from morphospace.explore.search import SimilarityIndex, normalise


def anomaly_scores(embeddings: np.ndarray, k: int = 10, seed: int = 0) -> pd.DataFrame:
    """Columns ``anomaly_iforest``, ``anomaly_lof``, ``anomaly_knn``, ``anomaly`` (0-1) and
    ``anomaly_rank`` (1 = most unusual), one row per embedding."""
    x = normalise(embeddings)
    n = len(x)
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
    scores = {"anomaly_iforest": iforest, "anomaly_lof": lof, "anomaly_knn": knn}
    combined = np.mean([rankdata(v) / n for v in scores.values()], axis=0)
    rank = rankdata(-combined, method="ordinal").astype(int)
    return pd.DataFrame({**scores, "anomaly": combined, "anomaly_rank": rank})
