"""Embeddings: a trained model applied to objects, and the table that holds the results."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.embed.inference": ["Embedder", "size_bucket"],
        "morphospace.embed.options": ["EmbedOptions"],
        "morphospace.embed.table": ["EmbeddingTable", "find_table", "object_id", "unique_ids"],
        "morphospace.models": ["dihedral"],
    },
)
