"""How a run's model embeds objects: the options of ``morphospace embed`` (and of the embed
step of ``morphospace run``), as one typed object."""

from __future__ import annotations

from dataclasses import dataclass

from morphospace.choices import (
    DEVICE,
    EMBED_BATCH_SIZE,
    ON_ERROR,
    ON_ERROR_CHOICES,
    PARTITION_ROWS,
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
    cluster : str, optional
        Embed on a Dask cluster: ``local:N`` (N worker processes here) or a scheduler's
        address, ``tcp://HOST:PORT`` (:mod:`morphospace.cluster`). The table is then
        always sharded, each shard one worker's task of ``partition_rows`` objects.
    partition_rows : int
        Objects in each task of a worker on a cluster
        (:data:`~morphospace.choices.PARTITION_ROWS`).
    """

    tta: bool = True
    batch_size: int = EMBED_BATCH_SIZE
    device: str = DEVICE
    workers: int | None = None
    on_error: OnError = ON_ERROR
    shard_rows: int = SHARD_ROWS
    cluster: str | None = None
    partition_rows: int = PARTITION_ROWS

    def __post_init__(self) -> None:
        from morphospace.cluster import check_cluster

        check_choice("--on-error", self.on_error, ON_ERROR_CHOICES)
        if self.cluster is not None:
            check_cluster(self.cluster)
        for option, value in (("--shard-rows", self.shard_rows),
                              ("--partition-rows", self.partition_rows)):  # fmt: skip
            if value < 1:
                raise InputError(option, f"must be at least 1, not {value}")
        if self.batch_size < 1:
            raise InputError("--batch-size", f"must be at least 1, not {self.batch_size}")
