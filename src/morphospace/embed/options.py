"""How a run's model embeds objects: the options of ``morphospace embed`` (and of the embed
step of ``morphospace run``), as one typed object."""

from __future__ import annotations

from dataclasses import dataclass

from morphospace.choices import (
    DEVICE,
    EMBED_BATCH_SIZE,
    ON_ERROR,
    ON_ERROR_CHOICES,
    SHARD_ROWS,
    OnError,
    check_choice,
)
from morphospace.errors import InputError

__all__ = ["EmbedOptions"]


@dataclass(frozen=True)
class EmbedOptions:
    """How objects are embedded.

    Parameters
    ----------
    tta : bool
        Average over the eight 90° rotations and flips (orientation-free embeddings).
    batch_size : int
        Objects per forward pass.
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``, …
    workers : int, optional
        Reader processes (all cores by default).
    on_error : {"skip", "fail"}
        A file that cannot be used is listed and skipped, or stops the embedding.
    shard_rows : int
        Past this many objects the table is written as a sharded folder, shard by shard
        (:data:`~morphospace.choices.SHARD_ROWS`).
    """

    tta: bool = True
    batch_size: int = EMBED_BATCH_SIZE
    device: str = DEVICE
    workers: int | None = None
    on_error: OnError = ON_ERROR
    shard_rows: int = SHARD_ROWS

    def __post_init__(self) -> None:
        check_choice("--on-error", self.on_error, ON_ERROR_CHOICES)
        if self.shard_rows < 1:
            raise InputError("--shard-rows", f"must be at least 1, not {self.shard_rows}")
        if self.batch_size < 1:
            raise InputError("--batch-size", f"must be at least 1, not {self.batch_size}")
