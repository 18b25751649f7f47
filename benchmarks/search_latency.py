"""Similarity-search latency: a top-10 query over 1,000,000 x 128 embeddings on the CPU.

Side by side in one run: morphospace's ``SimilarityIndex`` (faiss at this size: a float16
scan with exact float32 re-ranking) against a plain numpy brute-force search (one
matrix-vector product and a partial sort), which is what exact search costs. Both give the
same top 10, which the script checks. Target: under 50 ms per query.

Run: ``python benchmarks/search_latency.py``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from morphospace.explore import SimilarityIndex, normalise


def numpy_top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = normalise(rng.normal(size=(args.n, args.dim)).astype(np.float32))
    queries = normalise(rng.normal(size=(args.queries, args.dim)).astype(np.float32))

    start = time.perf_counter()
    index = SimilarityIndex(vectors)
    build = time.perf_counter() - start
    # one system after the other: interleaving makes faiss's and BLAS's thread pools
    # wait on each other
    ours, naive, answers = [], [], []
    for query in queries:
        start = time.perf_counter()
        answers.append(index.query(query, 10)[0][0])
        ours.append(time.perf_counter() - start)
    same = 0
    for query, found in zip(queries, answers, strict=True):
        start = time.perf_counter()
        expected = numpy_top_k(vectors, query, 10)
        naive.append(time.perf_counter() - start)
        same += int(np.array_equal(found, expected))
    ms_ours, ms_naive = 1e3 * statistics.median(ours), 1e3 * statistics.median(naive)
    print(f"{args.n:,} x {args.dim} random unit vectors, top-10 by cosine, {args.queries} queries")
    print(f"index ({index.method}) built in {build:.2f} s")
    print(f"morphospace SimilarityIndex: median {ms_ours:6.1f} ms per query "
          f"(p90 {1e3 * np.percentile(ours, 90):.1f} ms)")  # fmt: skip
    print(f"numpy brute force:           median {ms_naive:6.1f} ms per query")
    print(f"identical top-10 in {same} of {args.queries} queries")
    print(f"ratio numpy / morphospace: {ms_naive / ms_ours:.1f}x; "
          f"target < 50 ms: {'met' if ms_ours < 50 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
