"""Clusters and the class hierarchy.

- k-means on the unit-normalised embeddings, with k chosen by the silhouette score;
- HDBSCAN, which also marks objects that belong to no group (label -1); past
  :data:`HDBSCAN_LIMIT` objects it is fitted on a seeded sample of that many (its
  minimum spanning tree costs N² distances) and every other object joins the group of
  its most similar sampled object;
- agglomerative (Ward) clustering, whose linkage tree is the class hierarchy drawn as a
  dendrogram; it is cut at the same k as k-means.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import silhouette_score

from morphospace.explore.search import normalise

__all__ = [
    "HDBSCAN_LIMIT",
    "MICRO_CLUSTERS",
    "WARD_LIMIT",
    "Clusters",
    "central_members",
    "choose_k",
    "cluster",
    "kmeans",
]

WARD_LIMIT = 20_000
MICRO_CLUSTERS = 500
HDBSCAN_LIMIT = 20_000


@dataclass
class Clusters:
    """Cluster labels from three methods, the chosen k and the hierarchy."""

    kmeans: np.ndarray
    hdbscan: np.ndarray
    agglomerative: np.ndarray
    k: int
    silhouettes: dict[int, float] = field(default_factory=dict)  # k -> silhouette score
    linkage: np.ndarray | None = None  # scipy linkage matrix (Ward)
    leaf_of: np.ndarray | None = None  # each object's leaf in the linkage: itself, or its
    # k-means micro-cluster when N > WARD_LIMIT


def kmeans(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels of the rows of ``x`` (4 restarts, seeded)."""
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)


def choose_k(x: np.ndarray, k_max: int = 15, seed: int = 0, sample: int = 5000) -> tuple[int, dict]:
    """The k in 2..k_max with the best silhouette score (cosine), on a sample for large N."""
    n = len(x)
    rng = np.random.default_rng(seed)
    subset = x[rng.permutation(n)[:sample]] if n > sample else x
    scores: dict[int, float] = {}
    for k in range(2, min(k_max, len(subset) - 1) + 1):
        labels = kmeans(subset, k, seed)
        if len(np.unique(labels)) > 1:
            scores[k] = float(silhouette_score(subset, labels, metric="cosine"))
    if not scores:
        return 1, scores
    return max(scores, key=scores.get), scores


def cluster(
    embeddings: np.ndarray, k: int | None = None, k_max: int = 15, seed: int = 0
) -> Clusters:
    """Cluster (N, D) embeddings with k-means (k by silhouette unless given), HDBSCAN and Ward."""
    x = normalise(embeddings)
    n = len(x)
    if n < 4:
        ones = np.zeros(n, dtype=int)
        return Clusters(ones, ones.copy(), ones.copy(), 1)
    silhouettes: dict[int, float] = {}
    if k is None:
        k, silhouettes = choose_k(x, k_max, seed)
    k = max(1, min(k, n - 1))
    by_kmeans = kmeans(x, k, seed)
    hdbscan = _hdbscan(x, seed)
    if n <= WARD_LIMIT:
        tree = linkage(x, method="ward")
        agglomerative = fcluster(tree, t=k, criterion="maxclust") - 1
        leaf_of = np.arange(n)
    else:
        # Ward needs N^2 memory: build the hierarchy over k-means micro-clusters instead.
        micro = KMeans(n_clusters=MICRO_CLUSTERS, n_init=1, random_state=seed).fit(x)
        tree = linkage(micro.cluster_centers_, method="ward")
        leaf_of = micro.labels_
        agglomerative = (fcluster(tree, t=k, criterion="maxclust") - 1)[leaf_of]
    return Clusters(by_kmeans, hdbscan, agglomerative, k, silhouettes, tree, leaf_of)


def _hdbscan(x: np.ndarray, seed: int, limit: int = HDBSCAN_LIMIT) -> np.ndarray:
    """HDBSCAN labels of the rows of ``x`` (fitted on a sample past ``limit`` rows)."""
    n = len(x)
    chosen = np.arange(n)
    if n > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
    m = len(chosen)
    fitted = HDBSCAN(min_cluster_size=min(max(5, m // 100), m), copy=True).fit_predict(x[chosen])
    if m == n:
        return fitted
    from morphospace.explore.search import SimilarityIndex

    nearest, _ = SimilarityIndex(x[chosen], "exact").query(x, 1)
    labels = fitted[nearest[:, 0]]
    labels[chosen] = fitted
    return labels


def central_members(embeddings: np.ndarray, members: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` of ``members`` (row indices of ``embeddings``), most typical first:
    nearest the group's mean direction."""
    x = normalise(embeddings[members])
    centre = normalise(x.mean(axis=0, keepdims=True))[0]
    order = np.argsort(-(x @ centre))
    return [int(i) for i in members[order[:count]]]
