"""Objects ready for training: preprocessed once (with an on-disk cache), then kept in a bank.

The bank holds every object resampled to one square size (``bank_size``, a little larger
than the training view) plus its native height and width. Objects of any size can then sit
in one batch tensor; the augmenter's affine map uses the native extent to undo the
resampling, so a view can still span the whole object (``fit``) or a fixed number of
native pixels (``native``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from morphospace.choices import MIN_SIDE, ON_ERROR, OnError
from morphospace.errors import InputError
from morphospace.files import atomic_write, save_npy
from morphospace.io import ImageMeta, Problem, ReadResult, find_sources, read_many, split_address
from morphospace.io._pages import PageBudget
from morphospace.preprocess import PreprocessChain

__all__ = [
    "CACHE_VERSION",
    "Batch",
    "LoadedObjects",
    "ObjectBank",
    "ObjectCache",
    "check_usable",
    "keep_batch",
    "load_objects",
    "read_objects",
    "to_bank",
]

CACHE_VERSION = 2


class ObjectCache:
    """Preprocessed objects on disk, one ``.npy`` + ``.json`` pair per source file.

    An entry is found again only if the file (absolute path, size, modification time), the
    HDU, the minimum size and the preprocessing chain are all unchanged. Objects of a cutout
    stack are not kept: they are read again from the stack, which costs a slice.
    """

    def __init__(
        self,
        folder: str | Path,
        chain: PreprocessChain,
        hdu: int | str | None = None,
        min_side: int = MIN_SIDE,
    ):
        self.folder = Path(folder)
        self.salt = json.dumps(
            {"version": CACHE_VERSION, "chain": chain.to_dict(), "hdu": hdu, "min_side": min_side},
            sort_keys=True,
        )

    def _stem(self, path: str | Path) -> Path | None:
        if split_address(path) is not None:
            return None  # an object of a stack: read again from it, never a file per object
        try:
            stat = os.stat(path)
        except OSError:
            return None
        identity = f"{self.salt}|{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.folder / hashlib.sha256(identity.encode()).hexdigest()[:40]

    def get(self, path: str | Path) -> tuple[np.ndarray, ImageMeta] | None:
        stem = self._stem(path)
        if stem is None or not stem.with_suffix(".json").exists():
            return None
        try:
            meta = ImageMeta.from_dict(json.loads(stem.with_suffix(".json").read_text()))
            return np.load(stem.with_suffix(".npy"), allow_pickle=False), meta
        except (OSError, ValueError, TypeError, KeyError):
            return None  # a damaged entry is simply rebuilt

    def put(self, path: str | Path, item: tuple[np.ndarray, ImageMeta]) -> None:
        stem = self._stem(path)
        if stem is None:
            return
        array, meta = item
        # The .json is written last: an entry counts only once both halves are complete.
        atomic_write(stem.with_suffix(".npy"), lambda temporary: save_npy(temporary, array))
        atomic_write(stem.with_suffix(".json"), lambda t: t.write_text(json.dumps(meta.to_dict())))


@dataclass
class LoadedObjects:
    """Preprocessed arrays (C, H, W), their metadata, and the files that were skipped."""

    arrays: list[np.ndarray]
    metas: list[ImageMeta]
    problems: list[Problem]


def load_objects(
    sources: str | Path | Iterable[str | Path], chain: PreprocessChain, **options: Any
) -> LoadedObjects:
    """Find, read and preprocess every object, decoding each file only once across runs.

    ``options`` are those of :func:`read_objects`: ``hdu``, ``min_side``, ``on_error``,
    ``cache_dir``, ``workers`` and ``report``.

    Raises
    ------
    InputError
        If no object could be used.
    """
    paths = find_sources(sources)
    result = read_objects(paths, chain, **options)
    metas = [meta for _, meta in result.items]
    check_usable(metas, result.problems, paths, sources)
    return LoadedObjects([array for array, _ in result.items], metas, result.problems)


def read_objects(
    paths: Sequence[Path],
    chain: PreprocessChain,
    *,
    hdu: int | str | None = None,
    min_side: int = MIN_SIDE,
    on_error: OnError = ON_ERROR,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    report: str | Path | None = None,
) -> ReadResult:
    """Read and preprocess ``paths``: (array, meta) items in order, and the problems met.

    Preprocessed objects are kept in ``cache_dir`` (an :class:`ObjectCache`); see
    :func:`~morphospace.io.read_many` for the other options.
    """
    cache = ObjectCache(cache_dir, chain, hdu, min_side) if cache_dir is not None else None
    return read_many(
        paths,
        hdu=hdu,
        min_side=min_side,
        on_error=on_error,  # type: ignore[arg-type]
        transform=chain,
        workers=workers,
        report=report,
        cache=cache,
    )


def check_usable(
    metas: Sequence[ImageMeta],
    problems: Sequence[Problem],
    paths: Sequence[Path],
    sources: str | Path | Iterable[str | Path],
) -> None:
    """Raise :class:`InputError` when not one of the objects could be used."""
    if metas:
        return
    detail = f"; first problem: {problems[0]}" if problems else ""
    raise InputError(str(paths[0].parent if paths else sources), f"no usable objects{detail}")


def to_bank(arrays: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """Resample (C, H, W) objects to one (N, C, size, size) tensor, antialiased when shrinking.

    Objects of the same shape are resampled together: one call per shape instead of one
    per object (the per-call cost exceeds the arithmetic on small images).
    """
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, array in enumerate(arrays):
        by_shape.setdefault(array.shape, []).append(index)
    channels = arrays[0].shape[0] if len(arrays) else 1
    out = torch.empty((len(arrays), channels, size, size), dtype=torch.float32)
    for shape, members in by_shape.items():
        group = torch.as_tensor(np.stack([arrays[i] for i in members]), dtype=torch.float32)
        shrinking = max(shape[-2:]) > size
        out[members] = F.interpolate(
            group, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
        )
    return out


@dataclass
class Batch:
    """A training batch: bank images, native extents and the objects' indices."""

    images: torch.Tensor
    extents: torch.Tensor
    indices: torch.Tensor


def keep_batch(batch: Batch) -> Batch:
    """DataLoader ``collate_fn``: the bank already returns whole batches."""
    return batch


class _HalfImages:
    """Bank images kept as a float16 memory map, indexed as a float32 tensor would be; the
    pages that batches touch are given back to the kernel as they pile up."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = torch.Size(array.shape)
        self.pages = PageBudget(array)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        chosen = np.asarray(index)
        order = np.argsort(chosen, kind="stable")  # read the file forwards, then reorder
        rows = np.empty((len(chosen), *self.array.shape[1:]), dtype=np.float32)
        rows[order] = self.array[chosen[order]]
        self.pages.spend_rows(len(chosen), self.array[0].nbytes)  # rows drawn at random
        return torch.from_numpy(rows)


class ObjectBank(Dataset):
    """All objects of a run at one square size, as a single (N, C, S, S) tensor.

    Parameters
    ----------
    arrays : sequence of ndarray (C, H, W)
        Preprocessed objects, all with the same number of channels.
    paths : sequence of str
        The file each object came from (named in warnings).
    size : int
        Bank side S in pixels.
    """

    def __init__(self, arrays: Sequence[np.ndarray], paths: Sequence[str], size: int):
        channels = {array.shape[0] for array in arrays}
        if len(channels) != 1:
            raise ValueError(f"objects have different channel counts {sorted(channels)}")
        self.size = size
        self.images = to_bank(arrays, size)
        self.extents = torch.tensor([array.shape[-2:] for array in arrays], dtype=torch.float32)
        self.paths = [str(path) for path in paths]

    @classmethod
    def on_disk(
        cls, chunks: Iterable[tuple[Sequence[np.ndarray], Sequence[str]]], n: int, size: int,
        path: str | Path,
    ) -> ObjectBank:  # fmt: skip
        """A bank kept in ``path`` as float16, memory-mapped, filled chunk by chunk: memory
        holds one chunk of objects, never all of them.

        ``chunks`` yields (arrays, paths) in order; ``n`` bounds how many objects they
        hold. The bank gives float32 batches, as one in memory does.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        bank: np.memmap | None = None
        extents: list[tuple[int, int]] = []
        paths: list[str] = []
        for arrays, names in chunks:
            if not len(arrays):
                continue
            if bank is None:
                shape = (n, arrays[0].shape[0], size, size)
                bank = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
                written = PageBudget(bank, budget=0)  # each chunk's pages go once written
            if {a.shape[0] for a in arrays} != {bank.shape[1]}:
                raise ValueError(f"objects have different channel counts than {bank.shape[1]}")
            start = len(paths)
            bank[start : start + len(arrays)] = to_bank(arrays, size).numpy().astype(np.float16)
            written.release()
            extents += [tuple(a.shape[-2:]) for a in arrays]
            paths += [str(p) for p in names]
        if bank is None:
            raise ValueError("no objects to bank")
        bank.flush()
        made = cls.__new__(cls)
        made.size = size
        made.images = _HalfImages(np.load(path, mmap_mode="r")[: len(paths)])
        made.extents = torch.tensor(extents, dtype=torch.float32)
        made.paths = paths
        return made

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Batch:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return Batch(self.images[index], self.extents[index], index)
