"""What users do with embeddings: 2-D maps, clusters, anomaly ranks, similarity search,
label propagation, triage order, and the table layer that gives them all a run's table
(:class:`RunTable`)."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.explore.anomalies": ["anomaly_scores", "rerank"],
        "morphospace.explore.clusters": ["Clusters", "central_members", "cluster"],
        "morphospace.explore.labels": ["LabelStore"],
        "morphospace.explore.maps": ["Map", "project"],
        "morphospace.explore.propagate": ["Propagation", "propagate"],
        "morphospace.explore.search": ["SimilarityIndex", "normalise"],
        "morphospace.explore.table": ["RunTable"],
        "morphospace.explore.triage": ["next_unseen", "triage_order"],
    },
)
