"""2-D maps of the embedding: UMAP (default), t-SNE through openTSNE, or PCA."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

from morphospace.explore.search import normalise

METHODS = ("umap", "tsne", "pca")


def project(embeddings: np.ndarray, method: str = "umap", seed: int = 0) -> np.ndarray:
    """Map (N, D) embeddings to (N, 2) coordinates, comparing them by cosine similarity.

    Sets too small for a neighbour graph (under 10 objects) fall back to PCA.
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}; choose one of {', '.join(METHODS)}")
    x = normalise(embeddings)
    n = len(x)
    if n < 3:
        return np.zeros((n, 2), dtype=np.float32) if n < 2 else np.array([[-1, 0], [1, 0]], "f4")
    if method == "pca" or n < 10:
        return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float32)
    if method == "tsne":
        from openTSNE import TSNE

        perplexity = min(30.0, (n - 1) / 3)
        tsne = TSNE(perplexity=perplexity, metric="cosine", random_state=seed, n_jobs=-1)
        return np.asarray(tsne.fit(x), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap's notes on n_jobs with a seed, numba, …
        import umap

        reducer = umap.UMAP(
            n_neighbors=min(15, n - 1), metric="cosine", random_state=seed, n_jobs=1
        )
        return reducer.fit_transform(x).astype(np.float32)
