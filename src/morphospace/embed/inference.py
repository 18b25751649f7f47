"""Inference: one embedding per object, fed exactly as the model was trained.

Every object goes through the preprocessing chain recorded in ``model.json``, then is framed
whole (never cropped) the way training views were framed:

- ``fit`` models saw views spanning (most of) each object at ``view_size`` pixels, so each
  object is shown whole at ``view_size`` pixels: objects of any size share one batch.
- ``native`` models saw views at the objects' own pixel scale, so each object is shown
  whole at its full resolution. Objects are batched by size: each is resampled to the
  nearest rung of a ladder of sides 12.5 % apart, well inside the 0.8-1.25 zoom range
  the network was trained on.

With test-time averaging (``tta``), the embedding is the mean over the eight rotations by
90° and flips of the input, so it does not depend on the object's orientation.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from morphospace.byol import BYOL
from morphospace.choices import DEVICE, EMBED_BATCH_SIZE, ON_ERROR, OnError
from morphospace.dataset import LoadedObjects, check_usable, load_objects, read_objects, to_bank
from morphospace.embed.table import EmbeddingTable, unique_ids
from morphospace.errors import InputError
from morphospace.io import ImageMeta, Problem, ReadResult, find_sources, write_problems
from morphospace.io.reader import (
    PARALLEL_THRESHOLD,
    cancel_on_error,
    default_workers,
    worker_pool,
)
from morphospace.models import FramedEncoder, ModelCard, load_model
from morphospace.progress import progress_bar

__all__ = ["CHUNK_FILES", "LADDER_STEP", "Embedder", "size_bucket"]

LADDER_STEP = 1.125
# What the embedding table records of the model card, beside its digest and versions.
_RECORDED_CARD_KEYS = (
    "backbone", "hidden_layer", "representation_size", "in_channels", "preprocess", "views",
)  # fmt: skip
CHUNK_FILES = 256  # at most this many files per task of a worker process


def size_bucket(side: int, smallest: int = 16) -> int:
    """The ladder rung (sides 12.5 % apart, from ``smallest``) nearest to ``side`` pixels."""
    if side <= smallest:
        return smallest
    rung = round(math.log(side / smallest) / math.log(LADDER_STEP))
    return round(smallest * LADDER_STEP**rung)


class Embedder:
    """Turns objects into embeddings with a trained run's model.

    Parameters
    ----------
    byol : BYOL
        The trained model (see :func:`morphospace.models.load_model`).
    card : ModelCard
        Its card (``model.json``).
    tta : bool
        Average over the eight 90° rotations and flips (orientation-free embeddings).
    batch_size : int
        Objects per forward pass.
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, …; recorded with the
        embeddings.
    run : path, optional
        The run folder the model came from, recorded with the embeddings.
    """

    def __init__(
        self,
        byol: BYOL,
        card: ModelCard,
        *,
        tta: bool = True,
        batch_size: int = EMBED_BATCH_SIZE,
        device: str | torch.device = DEVICE,
        run: str | Path | None = None,
    ):
        self.encoder = FramedEncoder(byol, card, tta=tta, batch_size=batch_size, device=device)
        self.card = card
        self.run = str(run) if run is not None else None
        self.chain = card.preprocess

    @classmethod
    def from_run(cls, run_dir: str | Path, **options: Any) -> Embedder:
        """The embedder of a trained run folder (``model.safetensors`` + ``model.json``)."""
        byol, card = load_model(run_dir)
        return cls(byol, card, run=Path(run_dir).resolve(), **options)

    # The settings of the encoder, read where the embedding of objects needs them.
    byol = property(lambda self: self.encoder.byol)
    device = property(lambda self: self.encoder.device)
    tta = property(lambda self: self.encoder.tta)
    batch_size = property(lambda self: self.encoder.batch_size)
    view_size = property(lambda self: self.encoder.view_size)
    view_mode = property(lambda self: self.encoder.view_mode)
    bank_size = property(lambda self: self.card.views.bank_size)

    @property
    def settings(self) -> dict[str, Any]:
        """What produced the embeddings: stored in the Parquet metadata."""
        card = self.card.model_dump(mode="json")
        return {
            "model_sha256": card["weights_sha256"],
            "run": self.run,
            **{key: card[key] for key in _RECORDED_CARD_KEYS},
            "tta": self.tta,
            "device": str(self.device),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": card["versions"],
        }

    def input_size(self, shape: Sequence[int]) -> int:
        """Side of the square the network sees for an object of (C, H, W) ``shape``."""
        if self.view_mode == "fit":
            return self.view_size
        return size_bucket(max(shape[-2:]))

    def transform(
        self,
        arrays: Sequence[np.ndarray],
        paths: Sequence[str] | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """Embed preprocessed (C, H, W) arrays; returns (N, representation_size) float32."""
        out = np.zeros((len(arrays), self.encoder.size), dtype=np.float32)
        for members, inputs in self.inputs(arrays, paths, progress):
            out[members] = self.encoder.forward(inputs).cpu().numpy()
        return out

    def inputs(
        self,
        arrays: Sequence[np.ndarray],
        paths: Sequence[str] | None = None,
        progress: bool = False,
    ) -> Iterator[tuple[list[int], torch.Tensor]]:
        """Batches of network inputs: (object indices, standardised framed images)."""
        channels = self.card.in_channels
        groups: dict[int, list[int]] = {}
        for index, array in enumerate(arrays):
            if array.ndim != 3 or array.shape[0] != channels:
                source = paths[index] if paths is not None else f"object {index}"
                raise InputError(
                    source,
                    f"has shape {tuple(array.shape)} after preprocessing; the model takes "
                    f"{channels} channel(s)",
                )
            groups.setdefault(self.input_size(array.shape), []).append(index)
        batches = [
            (size, members[start : start + self.batch_size])
            for size, members in sorted(groups.items())
            for start in range(0, len(members), self.batch_size)
        ]
        for size, members in progress_bar(batches, "embed", progress, unit="batch", delay=0):
            # fit: resample to the bank size first, exactly as training did
            side = self.bank_size if self.view_mode == "fit" else size
            images = to_bank([arrays[i] for i in members], side)
            extents = torch.tensor([arrays[i].shape[-2:] for i in members], dtype=torch.float32)
            yield members, self.encoder.inputs(images, extents, size)

    def load(
        self,
        sources: str | Path | Iterable[str | Path],
        *,
        on_error: OnError = ON_ERROR,
        cache_dir: str | Path | None = None,
        workers: int | None = None,
        report: str | Path | None = None,
    ) -> LoadedObjects:
        """Read and preprocess objects with the run's recorded chain and HDU."""
        return load_objects(
            sources,
            self.chain,
            on_error=on_error,
            cache_dir=cache_dir,
            workers=workers,
            report=report,
            **self._file_options,
        )

    def embed(
        self,
        sources: str | Path | Iterable[str | Path],
        *,
        progress: bool = False,
        on_error: OnError = ON_ERROR,
        cache_dir: str | Path | None = None,
        workers: int | None = None,
        report: str | Path | None = None,
    ) -> tuple[EmbeddingTable, list[Problem]]:
        """Read, preprocess and embed FITS files: the table and the files that were skipped.

        Files that cannot be used are skipped (or fail, with ``on_error="fail"``); at least
        one must work. ``cache_dir`` holds preprocessed objects (``RUN/cache``); ``report``
        is a CSV of the skipped files. On the CPU, each of the ``workers`` processes (all
        cores by default) reads, preprocesses *and* embeds its share of the files on one
        core, so no core waits for another.
        """
        paths = find_sources(sources)
        workers = default_workers() if workers is None else max(1, workers)
        options = {"on_error": on_error, "cache_dir": cache_dir}
        if self._embeds_in_workers(workers, len(paths)):
            metas, vectors, problems = self._embed_in_workers(paths, workers, options, progress)
            if report is not None and problems:
                write_problems(problems, report)
        else:
            result = self._read(paths, workers=workers, report=report, **options)
            (metas, vectors), problems = self._embed_read(result, progress), result.problems
        check_usable(metas, problems, paths, sources)
        rows = pd.DataFrame([meta.as_row() for meta in metas])
        rows.insert(0, "id", unique_ids([meta.path for meta in metas], [m.hdu for m in metas]))
        return EmbeddingTable(rows, vectors, self.settings), problems

    @property
    def _file_options(self) -> dict[str, Any]:
        """How the run read its files: the HDU and the minimum side."""
        return self.card.data.model_dump()

    def _read(self, paths: Sequence[Path], **options: Any) -> ReadResult:
        return read_objects(paths, self.chain, **self._file_options, **options)

    def _embed_read(
        self, result: ReadResult, progress: bool = False
    ) -> tuple[list[ImageMeta], np.ndarray]:
        """The metadata and embeddings of the objects a read produced, in its order."""
        metas = [meta for _, meta in result.items]
        arrays = [array for array, _ in result.items]
        return metas, self.transform(arrays, [meta.path for meta in metas], progress=progress)

    def _embeds_in_workers(self, workers: int, n_files: int) -> bool:
        # Worker processes inherit the model by forking; CUDA does not survive a fork.
        cpu = self.device.type == "cpu"
        can_fork = "fork" in multiprocessing.get_all_start_methods()
        return cpu and workers > 1 and n_files >= PARALLEL_THRESHOLD and can_fork

    def _embed_in_workers(
        self, paths: Sequence[Path], workers: int, options: dict[str, Any], progress: bool
    ) -> tuple[list[ImageMeta], np.ndarray, list[Problem]]:
        # Contiguous chunks, a few per process: results come back in file order, a process
        # that finishes early takes the next chunk, and the progress bar moves.
        n_chunks = max(workers * 4, math.ceil(len(paths) / CHUNK_FILES))
        chunks = [list(c) for c in np.array_split(np.asarray(paths, dtype=object), n_chunks)]
        with (
            _frozen_gc(),
            worker_pool(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(self, options),  # inherited through the fork, not pickled
            ) as pool,
            cancel_on_error(pool),
        ):
            parts = list(
                progress_bar(
                    pool.map(_embed_chunk, chunks),
                    "embed",
                    progress,
                    total=len(chunks),
                    unit="chunk",
                    delay=0,
                )
            )
        metas = [meta for part_metas, _, _ in parts for meta in part_metas]
        vectors = np.concatenate([part_vectors for _, part_vectors, _ in parts])
        return metas, vectors, [problem for _, _, part in parts for problem in part]


# What a worker process embeds with, set once by _start_worker when the pool forks it.
_WORKER: tuple[Embedder, dict[str, Any]] | None = None


def _start_worker(embedder: Embedder, options: dict[str, Any]) -> None:
    global _WORKER
    torch.set_num_threads(1)  # one core per worker process
    _WORKER = embedder, options


def _embed_chunk(paths: list[Path]) -> tuple[list[ImageMeta], np.ndarray, list[Problem]]:
    assert _WORKER is not None, "only called in a worker started by _start_worker"
    embedder, options = _WORKER
    result = embedder._read(paths, workers=1, **options)
    return (*embedder._embed_read(result), result.problems)


@contextmanager
def _frozen_gc() -> Iterator[None]:
    """Leave the objects that exist now out of garbage collection while the workers run.

    A full collection in a process that holds torch and astropy walks millions of objects
    (150-250 ms here), and in a forked worker it would also copy every page it touches.
    """
    if gc.get_freeze_count():  # the caller froze them already
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
