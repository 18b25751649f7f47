"""Embeddings: a trained model applied to objects, and the table that holds the results."""

from morphospace.embed.inference import Embedder, size_bucket
from morphospace.embed.table import EmbeddingTable, find_table, object_id, unique_ids
from morphospace.models import dihedral

__all__ = [
    "Embedder",
    "EmbeddingTable",
    "dihedral",
    "find_table",
    "object_id",
    "size_bucket",
    "unique_ids",
]
