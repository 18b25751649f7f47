"""Figures of merit: does the embedding mean something, and does it beat the baselines?"""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.evaluate.metrics": [
            "Invariance",
            "cluster_agreement",
            "knn_accuracy",
            "label_silhouette",
            "linear_probe_accuracy",
            "orientation_invariance",
            "ridge_r2",
        ],
        "morphospace.evaluate.scorecard": [
            "BASELINES",
            "Scorecard",
            "evaluate_table",
            "score_embedding",
        ],
    },
)
