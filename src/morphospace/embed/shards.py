"""Embedding into a sharded table, one shard at a time: here, or over a Dask cluster.

The objects are cut into shards of consecutive objects. Each shard is embedded and
written in place on its own, atomically (:func:`~morphospace.embed.table.write_shard`),
with marks saying what it holds; the table's metadata is written last, by this process
(:func:`~morphospace.embed.table.finish_shards`). So:

- a stopped embedding, run again, resumes at the shards missing;
- on a cluster each worker writes the shards it embeds, and a shard whose worker died
  is embedded again by another and replaces its own file, never adding a second;
- a shard none of whose objects can be used follows the ``on_error`` rule, as one
  process does: listed as skipped, or the embedding stops at it with its one-line error.

Ids are made unique within each shard as the shard is embedded, then across shards
here, in shard order, so the table's ids are those of one process embedding in order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from morphospace.embed.inference import Embedder
from morphospace.embed.options import EmbedOptions
from morphospace.embed.table import (
    finish_shards,
    read_shard_marks,
    unused_id,
    write_shard,
)
from morphospace.errors import InputError
from morphospace.files import atomic_write
from morphospace.io import Problem
from morphospace.models import weights_sha256

__all__ = ["Shard", "embed_in_shards", "plan_shards"]


@dataclass(frozen=True)
class Shard:
    """One shard of a sharded embedding: its number, its objects and its marks."""

    index: int
    paths: list[Path]
    marks: dict[str, Any]

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}.parquet"


def plan_shards(paths: list[Path], rows: int, model: str | None) -> list[Shard]:
    """``paths`` cut into shards of ``rows`` consecutive objects, each marked with its first
    object, its size and the model's digest."""
    return [
        Shard(k, chunk, {"first": str(chunk[0]), "count": len(chunk), "model_sha256": model})
        for k, start in enumerate(range(0, len(paths), rows))
        for chunk in [paths[start : start + rows]]
    ]


def embed_in_shards(
    embedder: Embedder,
    paths: list[Path],
    output: Path,
    options: EmbedOptions,
    *,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> list[Problem]:
    """Embed ``paths`` into the sharded table ``output``, shard by shard, here or on the
    cluster ``options.cluster`` names; the files that were skipped.

    Shards already in place with the same marks are kept. On a cluster, each worker loads
    the model of ``embedder.run`` once, checked against the digest of the model here, and
    every shard holds ``options.partition_rows`` objects (``options.shard_rows`` here).
    """
    if output.is_file():
        output.unlink()  # --overwrite of a single-file table
    rows = options.partition_rows if options.cluster else options.shard_rows
    model = embedder.settings.get("model_sha256")
    shards = plan_shards(paths, rows, model)
    todo = [shard for shard in shards if read_shard_marks(output, shard.index) != shard.marks]
    if options.cluster is None:
        found = [
            _embed_shard(shard, embedder, output, options, cache_dir, options.workers, progress)
            for shard in todo
        ]
    else:
        found = _embed_on_cluster(embedder, todo, output, options, cache_dir, progress)
    problems = [problem for part in found for problem in part]
    _ids_unique_across(output, shards)
    for stale in output.glob("part-*.parquet"):
        if int(stale.stem.split("-")[1]) >= len(shards):
            stale.unlink()  # shards of an earlier, longer embedding into this folder
    for leftover in output.glob(".part-*.tmp"):
        leftover.unlink(missing_ok=True)  # a shard whose writer was killed
    finish_shards(output, embedder.settings)
    return problems


def _embed_shard(
    shard: Shard,
    embedder: Embedder,
    output: Path,
    options: EmbedOptions,
    cache_dir: Path | None,
    workers: int | None,
    progress: bool = False,
) -> list[Problem]:
    """Embed one shard and write it in place; the files skipped."""
    try:
        part, found = embedder.embed(
            shard.paths, progress=progress, on_error=options.on_error,
            cache_dir=cache_dir, workers=workers,
        )  # fmt: skip
    except InputError:
        if options.on_error == "fail":
            raise
        return [Problem(str(p), "not usable") for p in shard.paths]
    write_shard(part, output, shard.index, shard.marks)
    return found


def _embed_on_cluster(
    embedder: Embedder,
    shards: list[Shard],
    output: Path,
    options: EmbedOptions,
    cache_dir: Path | None,
    progress: bool,
) -> list[list[Problem]]:
    from morphospace.cluster import connect, run_partitions

    if embedder.run is None:
        raise InputError("--cluster", "the workers load the model of a run folder; give one")
    if not shards:
        return []
    digest = embedder.card.weights_sha256 or weights_sha256(embedder.run)
    with connect(options.cluster) as client:  # type: ignore[arg-type]  # set on a cluster
        return run_partitions(
            client, _embed_shard_on_worker, shards, embedder.run, digest, output, options,
            cache_dir, progress=progress, description="embed",
        )  # fmt: skip


# The embedder of a worker process, loaded by its first shard and kept for the others.
_ON_WORKER: dict[tuple[str, str, EmbedOptions], Embedder] = {}
_LOADING = threading.Lock()


def _embed_shard_on_worker(
    shard: Shard,
    run: str,
    digest: str,
    output: Path,
    options: EmbedOptions,
    cache_dir: Path | None,
) -> list[Problem]:
    """One shard, on a Dask worker: the model loaded once per worker process and checked
    against the digest of the model the embedding began with."""
    from morphospace.cluster import on_worker

    on_worker()
    key = (run, digest, options)
    with _LOADING:
        if key not in _ON_WORKER:
            found = weights_sha256(run)
            if found != digest:
                raise InputError(
                    Path(run) / "model.safetensors",
                    f"is not the model the embedding began with (sha256 {found[:12]}…, not "
                    f"{digest[:12]}…): each worker must see the same run folder",
                )
            _ON_WORKER.clear()
            _ON_WORKER[key] = Embedder.from_run(
                run, tta=options.tta, batch_size=options.batch_size, device=options.device
            )
        embedder = _ON_WORKER[key]
    return _embed_shard(shard, embedder, output, options, cache_dir, workers=1)


def _ids_unique_across(output: Path, shards: list[Shard]) -> None:
    """Make every id unique across the shards, in shard order, as one process embedding in
    order gives them (``name``, then ``name_2``, …); a shard is written again only when
    one of its ids changes."""
    used: set[str] = set()
    for shard in shards:
        path = output / shard.name
        if not path.exists():  # none of its objects could be used
            continue
        ids = pq.read_table(path, columns=["id"])["id"].to_pylist()
        unique = [unused_id(wanted, used) for wanted in ids]
        if unique != ids:
            table = pq.read_table(path)  # its marks stay in its metadata
            column = table.schema.get_field_index("id")
            kind = table.schema.field(column).type
            table = table.set_column(column, "id", pa.array(unique, kind))
            atomic_write(path, lambda temporary, table=table: pq.write_table(table, temporary))
