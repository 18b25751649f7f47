"""Similarity search by cosine: exact below 200,000 objects, faiss above.

Below 200,000 objects one matrix product per block of queries is fast enough. Above,
a query is limited by reading the embeddings from memory, so faiss scans a float16 copy
(half the bytes) and the best ``refine`` × k candidates are re-ranked with the float32
vectors the index already holds: the answers are the exact ones. On a 2-core machine
the scan takes about as long as numpy's float32 product (27 ms against 19 ms over a
million 128-number vectors, ``benchmarks/scale.py``); the float16 copy is a quarter of
the memory that faiss's own re-ranking index would add.

The neighbours of *every* object (the report's page, anomaly scores) are N queries: an
exact scan costs N² and takes hours at a million. From :data:`GRAPH_FROM` objects they come
from a faiss HNSW graph instead, approximate, with recall@10 measured against the exact
answer by ``benchmarks/search_latency.py``.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from morphospace.choices import check_choice

__all__ = ["FAISS_FROM", "GRAPH_FROM", "SEARCH_METHODS", "SimilarityIndex", "normalise"]

FAISS_FROM = 200_000
GRAPH_FROM = 200_000
#: Queries that would compare more query-object pairs than this go through the HNSW graph
#: (placing a million objects among a fitted sample of 100,000, say).
GRAPH_PAIRS = 10**10
#: The HNSW graph: links per node, and the candidate lists when building and searching.
HNSW_LINKS, HNSW_BUILD, HNSW_SEARCH = 32, 80, 96
SearchMethod = Literal["auto", "exact", "faiss"]
SEARCH_METHODS: tuple[str, ...] = get_args(SearchMethod)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); a zero row stays zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SimilarityIndex:
    """Nearest neighbours by cosine similarity.

    Parameters
    ----------
    embeddings : ndarray, shape (N, D)
    method : {"auto", "exact", "faiss"}
        ``auto`` is exact below 200,000 objects and faiss from there on.
    refine : int
        faiss re-ranks ``refine * k`` float16 candidates with the float32 vectors.
    """

    def __init__(self, embeddings: np.ndarray, method: SearchMethod = "auto", *, refine: int = 4):
        check_choice("method", method, SEARCH_METHODS)
        self.vectors = normalise(embeddings)
        n, dim = self.vectors.shape
        self.method = ("faiss" if n >= FAISS_FROM else "exact") if method == "auto" else method
        self.refine = refine
        self._index = None
        self._hnsw = None
        if self.method == "faiss":
            import faiss

            index = faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
            index.train(self.vectors[:1000])
            index.add(self.vectors)
            self._index = index

    def __len__(self) -> int:
        return len(self.vectors)

    def query(
        self,
        queries: np.ndarray,
        k: int = 10,
        exclude: np.ndarray | None = None,
        graph: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar objects to each query: (indices, cosine similarities).

        ``exclude`` gives, per query, one index to leave out (the query object itself);
        rows are sorted from most to least similar. ``graph`` searches the HNSW graph
        (approximate); by default when the queries times the objects pass
        :data:`GRAPH_PAIRS`.
        """
        queries = normalise(np.atleast_2d(queries))
        extra = 1 if exclude is not None else 0
        want = min(k + extra, len(self))
        if graph is None:
            graph = len(queries) * len(self) >= GRAPH_PAIRS
        if graph:
            hnsw = self._graph()
            hnsw.hnsw.efSearch = max(HNSW_SEARCH, 2 * want)
            similarity, index = hnsw.search(queries, want)
        elif self._index is not None:
            index, similarity = self._refined(queries, want)
        else:
            index, similarity = self._exact(queries, want)
        if exclude is not None:
            index, similarity = _drop(index, similarity, np.asarray(exclude), k)
        return index[:, :k], similarity[:, :k]

    def _refined(self, queries: np.ndarray, want: int):
        """faiss's float16 scan for ``refine * want`` candidates, re-ranked by their exact
        similarities from the float32 vectors already held (not a second copy in faiss)."""
        _, candidates = self._index.search(queries, min(self.refine * want, len(self)))
        similarity = np.einsum("qd,qkd->qk", queries, self.vectors[candidates])
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :want]
        return np.take_along_axis(candidates, order, 1), np.take_along_axis(similarity, order, 1)

    def _exact(self, queries: np.ndarray, want: int, block: int = 1024):
        index = np.empty((len(queries), want), dtype=np.int64)
        similarity = np.empty((len(queries), want), dtype=np.float32)
        for start in range(0, len(queries), block):
            scores = queries[start : start + block] @ self.vectors.T
            top = np.argpartition(-scores, want - 1, axis=1)[:, :want]
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            index[start : start + block] = np.take_along_axis(top, order, axis=1)
            similarity[start : start + block] = np.take_along_axis(top_scores, order, axis=1)
        return index, similarity

    def neighbours(self, k: int = 10, graph: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other objects of every object in the index: exact, or from an
        HNSW graph (approximate) from :data:`GRAPH_FROM` objects (``graph`` forces either)."""
        if graph is None:
            graph = len(self) >= GRAPH_FROM
        return self.query(self.vectors, k, exclude=np.arange(len(self)), graph=graph)

    def _graph(self):
        """The HNSW graph of the objects, built the first time it is asked for."""
        if self._hnsw is None:
            import faiss

            dim = self.vectors.shape[1]
            self._hnsw = faiss.IndexHNSWFlat(dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
            self._hnsw.hnsw.efConstruction = HNSW_BUILD
            self._hnsw.add(self.vectors)
        return self._hnsw


def _drop(index: np.ndarray, similarity: np.ndarray, exclude: np.ndarray, k: int):
    keep = index != exclude[:, None]
    # each row keeps its first k entries that are not the excluded one
    order = np.argsort(~keep, axis=1, kind="stable")
    return np.take_along_axis(index, order, 1)[:, :k], np.take_along_axis(similarity, order, 1)[
        :, :k
    ]
