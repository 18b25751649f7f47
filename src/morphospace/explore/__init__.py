"""What users do with embeddings: 2-D maps, clusters, anomaly ranks, similarity search."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.explore.anomalies": ["anomaly_scores"],
        "morphospace.explore.clusters": ["Clusters", "cluster"],
        "morphospace.explore.maps": ["project"],
        "morphospace.explore.search": ["SimilarityIndex", "normalise"],
    },
)
