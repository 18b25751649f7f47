"""Maps, clusters, anomaly scores and similarity search on embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from morphospace.explore import SimilarityIndex, anomaly_scores, cluster, project
from morphospace.explore.search import FAISS_FROM


def blobs(n_per: int = 60, centres: int = 3, dim: int = 16, spread: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    directions = np.eye(dim)[:centres] * 3
    x = np.concatenate([d + spread * rng.normal(size=(n_per, dim)) for d in directions])
    return x.astype(np.float32), np.repeat(np.arange(centres), n_per)


def test_clusters_find_separated_groups_and_their_hierarchy():
    x, truth = blobs()
    found = cluster(x, seed=0)
    assert found.k == 3
    assert adjusted_rand_score(truth, found.kmeans) == pytest.approx(1.0)
    assert adjusted_rand_score(truth, found.agglomerative) == pytest.approx(1.0)
    assert adjusted_rand_score(truth[found.hdbscan >= 0], found.hdbscan[found.hdbscan >= 0]) > 0.9
    assert found.linkage.shape == (len(x) - 1, 4)
    assert max(found.silhouettes, key=found.silhouettes.get) == 3


def test_an_outlier_ranks_first():
    x, _ = blobs()
    outlier = np.zeros((1, x.shape[1]), np.float32)
    outlier[0, -1] = 3.0  # a direction no other object has
    scores = anomaly_scores(np.concatenate([x, outlier]))
    assert scores["anomaly_rank"].iloc[-1] == 1
    assert sorted(scores["anomaly_rank"]) == list(range(1, len(x) + 2))
    assert scores["anomaly"].between(0, 1).all()


def test_maps_keep_groups_apart():
    x, truth = blobs()
    for method in ("pca", "tsne", "umap"):
        xy = project(x, method)
        assert xy.shape == (len(x), 2) and np.isfinite(xy).all()
        centres = np.array([xy[truth == c].mean(0) for c in range(3)])
        inside = max(np.linalg.norm(xy[truth == c] - centres[c], axis=1).mean() for c in range(3))
        between = min(
            np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)
        )
        assert between > 2 * inside, method
    with pytest.raises(ValueError, match="umap, tsne, pca"):
        project(x, "isomap")


def test_exact_search_and_faiss_give_the_same_answers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 32)).astype(np.float32)
    exact = SimilarityIndex(x, "exact")
    assert exact.method == "exact"
    fast = SimilarityIndex(x, "faiss")
    assert fast.method == "faiss"
    i1, s1 = exact.neighbours(10)
    i2, s2 = fast.neighbours(10)
    assert np.array_equal(i1, i2)
    assert np.allclose(s1, s2, atol=1e-5)
    assert (i1 != np.arange(len(x))[:, None]).all()  # never its own neighbour
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)  # brute force by hand
    assert np.array_equal(exact.query(unit[:3], 5)[0], np.argsort(-(unit[:3] @ unit.T), 1)[:, :5])
    assert SimilarityIndex(x[:10]).method == "exact" and FAISS_FROM == 200_000


def test_a_table_larger_than_the_fit_sample_is_fitted_on_a_sample_and_placed_whole():
    import pandas as pd

    from morphospace.embed import EmbeddingTable
    from morphospace.explore import RunTable

    x, labels = blobs(150, centres=4, seed=4)  # 600 objects in four groups
    x[-1] = 0.0
    x[-1, -1] = 3.0  # a direction no other object has
    rows = pd.DataFrame({"id": [f"o{i}" for i in range(len(x))], "path": "x.fits"})
    table = RunTable(EmbeddingTable(rows, x, {}))
    explored, groups, fitted = table.explore("pca", k=4, sample=200)
    assert explored.info["fit_sample"] == 200 and len(explored) == 600
    for name in ("x", "y", "cluster", "cluster_hdbscan", "cluster_agglomerative", "anomaly"):
        assert np.isfinite(explored.column(name).astype(float)).all()
    # the objects outside the sample are placed on the same map and in the same clusters
    assert adjusted_rand_score(labels[:-1], explored.column("cluster")[:-1]) > 0.95
    assert adjusted_rand_score(labels[:-1], groups.agglomerative[:-1]) > 0.95
    assert len(groups.leaf_of) == 600 and groups.linkage.shape[0] + 1 <= 200
    xy = explored.rows(columns=["x", "y"]).to_numpy()
    assert np.allclose(fitted.transform(x[:5]), xy[:5], atol=1e-5)
    # scored against the sample: still the most unusual to LOF and to the k-NN distance
    for detector in ("anomaly_lof", "anomaly_knn"):
        assert np.argmax(explored.column(detector)) == 599
    # a table within the sample size is fitted whole, as before
    assert table.explore("pca", k=4)[0].info["fit_sample"] == 600


def test_objects_outside_the_fit_sample_land_where_the_maps_own_transform_puts_them():
    import pandas as pd

    from morphospace.embed import EmbeddingTable
    from morphospace.explore import RunTable

    x, _ = blobs(100, centres=3, seed=5)  # 300 objects
    rows = pd.DataFrame({"id": [f"o{i}" for i in range(len(x))], "path": "x.fits"})
    explored, _, fitted = RunTable(EmbeddingTable(rows, x, {})).explore("umap", k=3, sample=120)
    xy = explored.rows(columns=["x", "y"]).to_numpy()
    apart = np.linalg.norm(fitted.transform(x) - xy, axis=1)
    assert np.sum(apart < 1e-4) >= len(x) - 120  # the objects outside the sample: exactly
    assert apart.max() < 1e-3 * np.ptp(xy)  # the fitted ones: at their own place


def test_the_neighbours_of_every_object_from_the_graph_match_the_exact_ones():
    x, _ = blobs(300, centres=5, dim=32, spread=0.3, seed=2)
    index = SimilarityIndex(x)
    exact, _ = index.neighbours(10, graph=False)
    found, similarity = index.neighbours(10, graph=True)
    assert found.shape == (1500, 10) and not (found == np.arange(1500)[:, None]).any()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.95
    assert (np.diff(similarity, axis=1) <= 1e-6).all()  # most similar first


def test_the_sampled_map_places_an_object_held_back_from_the_fit_beside_its_twin():
    import pandas as pd

    from morphospace.embed import EmbeddingTable
    from morphospace.explore import RunTable

    x, group = blobs(150, centres=4, seed=5)  # 600 objects in four groups
    rng = np.random.default_rng(0)
    twins = np.arange(10)
    x[590:] = x[twins] + rng.normal(scale=1e-3, size=(10, x.shape[1]))  # ten near copies
    rows = pd.DataFrame({"id": [f"o{i}" for i in range(len(x))], "path": "x.fits"})
    explored, _, _ = RunTable(EmbeddingTable(rows, x, {})).explore("umap", k=4, sample=200)
    xy = explored.rows(columns=["x", "y"]).to_numpy()
    # whether one twin was in the fit and the other placed, or both placed, they lie closer
    # together than nine in ten of the other members of their group
    for twin, original in zip(range(590, 600), twins, strict=True):
        members = np.flatnonzero(group[:590] == group[original])
        near = np.linalg.norm(xy[members] - xy[original], axis=1)
        apart = np.linalg.norm(xy[twin] - xy[original])
        assert apart < np.quantile(near, 0.1), (twin, apart, np.quantile(near, 0.1))


def test_hdbscan_of_more_objects_than_its_limit_is_fitted_on_a_sample_and_spread_to_all():
    from morphospace.explore.clusters import _hdbscan

    x, labels = blobs(300, centres=3, seed=6)  # 900 objects
    found = _hdbscan(x, seed=0, limit=300)
    assert adjusted_rand_score(labels, found) > 0.95  # every object in its group
    assert np.array_equal(_hdbscan(x[:250], seed=0, limit=300), _hdbscan(x[:250], seed=1))


def test_the_outlier_factor_from_neighbours_already_found_is_scikit_learns():
    from sklearn.neighbors import LocalOutlierFactor

    from morphospace.explore.anomalies import OutlierFactor
    from morphospace.explore.search import SimilarityIndex, normalise

    x, _ = blobs(100, centres=3, seed=7)
    x = normalise(x)
    fit, new = x[::2], x[1::2]
    lof = LocalOutlierFactor(n_neighbors=10, metric="cosine", novelty=True).fit(fit)
    index = SimilarityIndex(fit)
    ours = OutlierFactor.fit(*_distances(index.neighbours(10)))
    assert np.allclose(ours.of_fitted, -lof.negative_outlier_factor_, rtol=1e-4)
    found = ours.of_new(*_distances(index.query(new, 10)))
    assert np.allclose(found, -lof.score_samples(new), rtol=1e-4)


def _distances(found):
    near, similarity = found
    return near, 1.0 - similarity


def _sharded_table(folder, n=250, per=100):
    import pandas as pd

    from morphospace.embed.table import EmbeddingTable, finish_shards, write_shard

    rng = np.random.default_rng(3)
    rows = pd.DataFrame(
        {
            "id": [f"o{i}" for i in range(n)],
            "path": [f"cut{i}.fits" for i in range(n)],
            "hdu": 0,
            "object": [f"OBJ {i}" for i in range(n)],
            "x": rng.normal(size=n),
            "cluster": rng.integers(0, 4, n),
            "note": [None if i % 7 else f"note {i}" for i in range(n)],
            "score": np.where(np.arange(n) % 5 == 0, np.nan, rng.normal(size=n)),
        }
    )
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    for k, start in enumerate(range(0, n, per)):
        part = EmbeddingTable(rows[start : start + per], vectors[start : start + per], {})
        write_shard(part, folder, k, {})
    finish_shards(folder, {"model_sha256": "x"})
    return rows, vectors


def test_a_table_opened_with_some_columns_reads_the_others_where_they_are_used(tmp_path):
    from morphospace.embed.table import EmbeddingTable
    from morphospace.explore import RunTable

    folder = tmp_path / "embeddings.parquet"
    rows, vectors = _sharded_table(folder)
    assert list(EmbeddingTable.read(folder, ["x", "id"]).rows.columns) == ["id", "path", "x"]
    whole = RunTable.open(folder)
    part = RunTable.open(folder, columns=("x",))
    assert part.columns == whole.columns == list(rows.columns)
    assert np.array_equal(part.vectors, vectors)
    for i in (0, 99, 100, 249):  # rows of each shard, read from that shard alone
        assert part.row(i).equals(whole.row(i))
    chosen = [249, 0, 120, 120]
    picked = part.rows(chosen).reset_index(drop=True)
    assert picked.equals(whole.rows(chosen).reset_index(drop=True))
    assert part.rows(indices=[]).dtypes.equals(whole.rows(indices=[]).dtypes)
    assert part.rows(chosen, ["note", "x"]).columns.tolist() == ["note", "x"]
    assert np.array_equal(part.column("score"), whole.column("score"), equal_nan=True)
    assert part.find("OBJ 42") == 42
    assert part.rows().equals(whole.rows())  # every row: the columns read whole


def test_a_table_opened_with_some_columns_writes_back_every_column(tmp_path):
    from morphospace.explore import RunTable

    folder = tmp_path / "embeddings.parquet"
    rows, vectors = _sharded_table(folder)
    part = RunTable.open(folder, columns=("x",))
    part.with_columns({"flag": np.arange(len(rows)) % 2}).write()
    again = RunTable.open(folder)
    assert again.rows(columns=list(rows.columns)).equals(rows)
    assert np.array_equal(again.column("flag"), np.arange(len(rows)) % 2)
    assert np.array_equal(again.vectors, vectors)
