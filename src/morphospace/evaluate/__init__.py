"""Figures of merit: does the embedding mean something, and does it beat the baselines?"""

from morphospace.evaluate.metrics import (
    Invariance,
    cluster_agreement,
    knn_accuracy,
    label_silhouette,
    linear_probe_accuracy,
    orientation_invariance,
    ridge_r2,
)
from morphospace.evaluate.scorecard import BASELINES, Scorecard, evaluate_table, score_embedding

__all__ = [
    "BASELINES",
    "Invariance",
    "Scorecard",
    "cluster_agreement",
    "evaluate_table",
    "knn_accuracy",
    "label_silhouette",
    "linear_probe_accuracy",
    "orientation_invariance",
    "ridge_r2",
    "score_embedding",
]
