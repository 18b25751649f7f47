"""Similarity-search latency: a top-10 query over 1,000,000 x 128 embeddings on the CPU.

Side by side in one run: morphospace's ``SimilarityIndex`` (faiss at this size: a float16
scan with exact float32 re-ranking) against a plain numpy brute-force search (one
matrix-vector product and a partial sort), which is what exact search costs. Both give the
same top 10, which the script checks. Target: under 50 ms per query.

Then the neighbours of *every* object (what ``report`` and the anomaly scores need), over
``--all-n`` clustered embeddings: the HNSW graph of ``SimilarityIndex.neighbours`` against
the exact scan, timed on 2,000 objects and scaled to all, with the graph's recall@10 on
those 2,000 against the exact answer. Target: recall@10 >= 0.95.

Run: ``python benchmarks/search_latency.py [--all-n 1000000]``
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
    parser.add_argument("--all-n", type=int, default=1_000_000)
    args = parser.parse_args()
    single_queries(args)
    every_object(args.all_n, args.dim)


def every_object(n: int, dim: int, checked: int = 2000) -> None:
    """The neighbours of every object: the HNSW graph against the exact scan."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(max(n // 200, 2), dim))  # clustered, as embeddings are
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, dim))
    index = SimilarityIndex(x.astype(np.float32), method="exact")
    start = time.perf_counter()
    found, _ = index.neighbours(10, graph=True)
    graph = time.perf_counter() - start
    sample = rng.choice(n, checked, replace=False)
    start = time.perf_counter()
    exact, _ = index.query(index.vectors[sample], 10, exclude=sample)
    scan = (time.perf_counter() - start) * n / checked
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found[sample], exact, strict=True)])
    print(f"neighbours of all {n:,} objects (clustered, {dim}-D), k = 10:")
    print(f"HNSW graph:  {graph:8.1f} s  (recall@10 {recall:.3f} on {checked} objects)")
    print(f"exact scan:  {scan:8.1f} s  (timed on {checked} objects, scaled)")
    print(f"ratio exact / graph: {scan / graph:.1f}x; target recall >= 0.95: "
          f"{'met' if recall >= 0.95 else 'NOT met'}")  # fmt: skip


def single_queries(args: argparse.Namespace) -> None:
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
