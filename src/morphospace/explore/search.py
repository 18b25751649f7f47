"""Similarity search by cosine: exact below 200,000 objects, faiss above.

Exact search is one matrix product per block of queries. For large sets faiss's inverted
file index (IVF) scans only the ``nprobe`` cells nearest to each query, which keeps a
top-10 query over a million embeddings in milliseconds; with ``nprobe`` equal to the number
of cells it is exact.
"""

from __future__ import annotations

import math

import numpy as np

FAISS_FROM = 200_000


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
    nprobe : int, optional
        faiss cells visited per query (default: enough for ~99 % recall@10); ``None`` with
        ``nlist`` set equal makes faiss exact.
    nlist : int, optional
        faiss cells (default ``4 sqrt(N)``).
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        method: str = "auto",
        *,
        nprobe: int | None = None,
        nlist: int | None = None,
        seed: int = 0,
    ):
        if method not in ("auto", "exact", "faiss"):
            raise ValueError(f"unknown search method {method!r}; use auto, exact or faiss")
        self.vectors = normalise(embeddings)
        n, dim = self.vectors.shape
        self.method = ("faiss" if n >= FAISS_FROM else "exact") if method == "auto" else method
        self._index = None
        if self.method == "faiss":
            import faiss

            nlist = nlist or max(1, min(n // 39, int(4 * math.sqrt(n))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(seed)
            sample = self.vectors[rng.permutation(n)[: max(nlist * 39, min(n, 50 * nlist))]]
            index.train(sample)
            index.add(self.vectors)
            index.nprobe = min(nlist, nprobe or max(1, nlist // 16))
            self._index = index

    def __len__(self) -> int:
        return len(self.vectors)

    def query(
        self, queries: np.ndarray, k: int = 10, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar objects to each query: (indices, cosine similarities).

        ``exclude`` gives, per query, one index to leave out (the query object itself);
        rows are sorted from most to least similar.
        """
        queries = normalise(np.atleast_2d(queries))
        extra = 1 if exclude is not None else 0
        want = min(k + extra, len(self))
        if self._index is not None:
            similarity, index = self._index.search(queries, want)
        else:
            index, similarity = self._exact(queries, want)
        if exclude is not None:
            index, similarity = _drop(index, similarity, np.asarray(exclude), k)
        return index[:, :k], similarity[:, :k]

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

    def neighbours(self, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other objects of every object in the index."""
        return self.query(self.vectors, k, exclude=np.arange(len(self)))


def _drop(index: np.ndarray, similarity: np.ndarray, exclude: np.ndarray, k: int):
    keep = index != exclude[:, None]
    # each row keeps its first k entries that are not the excluded one
    order = np.argsort(~keep, axis=1, kind="stable")
    return np.take_along_axis(index, order, 1)[:, :k], np.take_along_axis(similarity, order, 1)[
        :, :k
    ]
