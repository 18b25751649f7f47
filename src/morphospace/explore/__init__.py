"""What users do with embeddings: 2-D maps, clusters, anomaly ranks, similarity search."""

from morphospace.explore.anomalies import anomaly_scores
from morphospace.explore.clusters import Clusters, cluster
from morphospace.explore.maps import project
from morphospace.explore.search import SimilarityIndex, normalise

__all__ = ["Clusters", "SimilarityIndex", "anomaly_scores", "cluster", "normalise", "project"]
