"""2-D maps of the embedding: UMAP (default), t-SNE through openTSNE, or PCA.

A :class:`Map` is fitted once; its ``transform`` then places new objects on the same map,
so objects added later (``embed --append``, or every object outside the fit sample of a
large table) do not move the ones already there: PCA by its projection, UMAP and t-SNE at
the similarity-weighted mean place of the :data:`PLACE_NEIGHBOURS` fitted objects most
like each new one. That puts an object beside its near twin, deterministically and in
one nearest-neighbour search (UMAP's and openTSNE's own ``transform`` run an
optimisation per batch, which can set a twin apart and takes minutes per 100,000 objects).
A fitted map is kept beside its table (:func:`map_file`).
"""

from __future__ import annotations

import pickle
import secrets
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from morphospace.choices import MAP_METHOD, MAP_METHODS, MapMethod, check_choice
from morphospace.errors import InputError
from morphospace.explore.search import GRAPH_PAIRS, SimilarityIndex, normalise
from morphospace.files import atomic_write

__all__ = ["GRAPH_MINIMUM", "PLACE_NEIGHBOURS", "Map", "map_file", "project"]

#: Below this many objects there is no neighbour graph: the map is PCA's.
GRAPH_MINIMUM = 10
#: A new object is placed among this many of the fitted objects most like it.
PLACE_NEIGHBOURS = 10
PLACE_CHUNK = 50_000  # objects placed at a time


class Map:
    """A 2-D map of embeddings, compared by cosine similarity.

    Parameters
    ----------
    method : {"umap", "tsne", "pca"}
    seed : int
    """

    def __init__(self, method: MapMethod = MAP_METHOD, seed: int = 0):
        self.method = check_choice("--map", method, MAP_METHODS)
        self.seed = seed
        self.token = secrets.token_hex(8)  # names this fit in the table it belongs to
        self._model: PCA | None = None  # the fitted PCA
        self._reference: np.ndarray | None = None  # (UMAP, t-SNE) the fitted objects and
        self._xy: np.ndarray | None = None  # their places
        self._index = None  # a SimilarityIndex of the reference, made when first needed

    def fit(self, embeddings: np.ndarray) -> np.ndarray:
        """Fit the map to (N, D) embeddings; returns their (N, 2) coordinates."""
        x = normalise(embeddings)
        n = len(x)
        if n < 3:
            xy = np.zeros((n, 2), "f4") if n < 2 else np.array([[-1, 0], [1, 0]], "f4")
        elif self.method == "pca" or n < GRAPH_MINIMUM:
            self._model = PCA(n_components=2, random_state=self.seed).fit(x)
            return self._model.transform(x).astype(np.float32)
        elif self.method == "tsne":
            from openTSNE import TSNE

            perplexity = min(30.0, (n - 1) / 3)
            tsne = TSNE(perplexity=perplexity, metric="cosine", random_state=self.seed, n_jobs=-1)
            xy = np.asarray(tsne.fit(x), dtype=np.float32)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # umap's notes on n_jobs with a seed, numba, …
                import umap

                model = umap.UMAP(
                    n_neighbors=min(15, n - 1), metric="cosine", random_state=self.seed, n_jobs=1
                )
                xy = model.fit_transform(x).astype(np.float32)
        self._reference, self._xy = x, xy
        return xy

    def transform(self, embeddings: np.ndarray, graph: bool | None = None) -> np.ndarray:
        """Place (M, D) new embeddings on the fitted map; returns (M, 2) coordinates.
        ``graph`` finds their neighbours in the HNSW graph (by default past
        :data:`~morphospace.explore.search.GRAPH_PAIRS` new-fitted pairs; a caller that
        places a large set a chunk at a time decides it for the whole set)."""
        x = normalise(embeddings)
        if len(x) == 0:
            return np.zeros((0, 2), np.float32)
        if self._model is not None:
            return self._model.transform(x).astype(np.float32)
        if self._reference is None:
            raise RuntimeError("fit the map before placing objects on it")
        if not len(self._reference):
            return np.zeros((len(x), 2), np.float32)
        if getattr(self, "_index", None) is None:  # (a map saved before it had one)
            self._index = SimilarityIndex(self._reference, "exact")  # or its graph, for many
        k = min(PLACE_NEIGHBOURS, len(self._reference))
        placed = np.empty((len(x), 2), np.float32)
        if graph is None:
            graph = len(x) * len(self._reference) >= GRAPH_PAIRS
        for start in range(0, len(x), PLACE_CHUNK):
            found = self._index.query(x[start : start + PLACE_CHUNK], k, graph=graph)
            placed[start : start + PLACE_CHUNK] = self.place(*found)
        return placed

    @property
    def by_neighbours(self) -> bool:
        """Whether new objects are placed among their most similar fitted objects (UMAP,
        t-SNE) rather than by a projection (PCA)."""
        return self._model is None and self._xy is not None

    def place(self, near: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """Where :meth:`transform` puts objects whose most similar fitted objects (their
        rows among the fitted embeddings, most similar first, at least
        :data:`PLACE_NEIGHBOURS` of them when there are) and cosine similarities are
        already known; (M, 2) coordinates."""
        if not self.by_neighbours:
            raise RuntimeError("only a UMAP or t-SNE map places objects by their neighbours")
        near, similarity = near[:, :PLACE_NEIGHBOURS], similarity[:, :PLACE_NEIGHBOURS]
        weight = 1.0 / np.maximum(1.0 - similarity, 1e-6)  # a twin outweighs the rest
        weight /= weight.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", weight, self._xy[near]).astype(np.float32)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_index": None}  # the index is made again when needed

    def save(self, path: str | Path) -> Path:
        """Pickle the fitted map (atomically)."""
        path = Path(path)
        data = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(path, lambda temporary: temporary.write_bytes(data))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Map:
        """A map saved by :meth:`save` (only ever one written by morphospace itself)."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                fitted = pickle.load(handle)
        except FileNotFoundError:
            raise InputError(path, "no saved map: run 'morphospace report' on the table") from None
        except Exception as exc:
            raise InputError(path, f"cannot read the saved map ({type(exc).__name__})") from None
        if not isinstance(fitted, cls):
            raise InputError(path, "is not a morphospace map")
        return fitted


def map_file(table_path: str | Path) -> Path:
    """Where the fitted map of a table is kept: ``embeddings.parquet`` → ``embeddings.map.pkl``."""
    return Path(table_path).with_suffix(".map.pkl")


def project(embeddings: np.ndarray, method: MapMethod = MAP_METHOD, seed: int = 0) -> np.ndarray:
    """Map (N, D) embeddings to (N, 2) coordinates, comparing them by cosine similarity.

    Sets too small for a neighbour graph (under 10 objects) fall back to PCA.
    """
    return Map(method, seed).fit(embeddings)
