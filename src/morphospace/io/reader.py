"""Read many FITS files at once, with an ``on_error`` policy and a report of skipped files.

Reading is spread over worker processes for large batches; an optional ``transform``
(such as a :class:`~morphospace.preprocess.PreprocessChain`) runs in the workers too, so
decoding and preprocessing overlap across cores.
"""

from __future__ import annotations

import csv
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from morphospace.choices import MIN_SIDE, ON_ERROR_CHOICES, OnError
from morphospace.errors import InputError, MorphospaceError
from morphospace.io.fits import SkyImage
from morphospace.io.stacks import read_object

__all__ = [
    "PARALLEL_THRESHOLD",
    "Cache",
    "Problem",
    "ReadResult",
    "cancel_on_error",
    "default_workers",
    "read_many",
    "worker_pool",
    "write_problems",
]


class Cache(Protocol):
    """Keeps the transform's output per file; see :class:`morphospace.dataset.ObjectCache`."""

    def get(self, path: str | Path) -> Any | None: ...

    def put(self, path: str | Path, item: Any) -> None: ...


# Below this many files a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class Problem:
    """A file that could not be used, and why."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass
class ReadResult:
    """Objects read in input order (with the transform's output, if any) and the problems met."""

    items: list[Any] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def default_workers() -> int:
    """Number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def read_many(
    paths: Sequence[str | Path],
    *,
    hdu: int | str | None = None,
    min_side: int = MIN_SIDE,
    on_error: OnError = "fail",
    transform: Callable[[SkyImage], Any] | None = None,
    workers: int | None = None,
    report: str | Path | None = None,
    cache: Cache | None = None,
) -> ReadResult:
    """Read FITS files, optionally transforming each image as it is read.

    Parameters
    ----------
    paths : sequence of path
        Files to read, for example from :func:`~morphospace.io.find_sources`.
    hdu, min_side
        Passed to :func:`~morphospace.io.read_fits`.
    on_error : {"fail", "skip"}
        ``"fail"`` raises the first :class:`InputError`; ``"skip"`` leaves the file out and
        records it in :attr:`ReadResult.problems`.
    transform : callable, optional
        Applied to each :class:`SkyImage` in the worker; its result is what is returned.
        It may raise :class:`InputError`, which counts as a problem with that file.
    workers : int, optional
        Worker processes; by default all available cores for large batches.
    report : path, optional
        Where to write a CSV (``path,problem``) of skipped files. Written only when
        something was skipped.
    cache : Cache, optional
        Transform outputs kept from an earlier read; a hit skips decoding the file.

    Returns
    -------
    ReadResult
    """
    if on_error not in ON_ERROR_CHOICES:
        raise InputError("on_error", f"must be 'skip' or 'fail', not {on_error!r}")
    job = partial(_read_one, hdu=hdu, min_side=min_side, transform=transform, cache=cache)
    workers = default_workers() if workers is None else max(1, workers)
    result = ReadResult()
    if workers > 1 and len(paths) >= PARALLEL_THRESHOLD:
        chunk = max(1, len(paths) // (workers * 8))
        with worker_pool(workers) as pool, cancel_on_error(pool):
            outcomes = pool.map(job, paths, chunksize=chunk)
            _collect(outcomes, on_error, result)
    else:
        _collect(map(job, paths), on_error, result)
    if report is not None and result.problems:
        write_problems(result.problems, report)
    return result


def worker_pool(
    workers: int,
    *,
    mp_context: Any = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of worker processes that end when this process ends, ``kill -9`` included.

    Without this, a parent killed mid-run leaves its forked workers running, each holding
    a copy of the model. ``initializer(*initargs)`` then runs in each worker as usual.
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=mp_context,
        initializer=_start_pool_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _start_pool_worker(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def cancel_on_error(pool: Executor) -> Iterator[None]:
    """On an error, drop the pool's queued work: fail now, not after reading every file.

    A worker process that dies (killed, out of memory) becomes one clear error.
    """
    try:
        yield
    except BrokenProcessPool:
        pool.shutdown(wait=True, cancel_futures=True)
        raise MorphospaceError(
            "a worker process stopped abruptly (killed, or out of memory?); "
            "run with one worker (--workers 1) to see which file it was reading"
        ) from None
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise


def write_problems(problems: Sequence[Problem], path: str | Path) -> Path:
    """Write problems to a CSV file with columns ``path`` and ``problem``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "problem"])
        writer.writerows([p.path, p.problem] for p in problems)
    return path


def _read_one(
    path: str | Path,
    hdu: int | str | None,
    min_side: int,
    transform: Callable[[SkyImage], Any] | None,
    cache: Cache | None = None,
) -> Any | Problem:
    if cache is not None and (hit := cache.get(path)) is not None:
        return hit
    try:
        image = read_object(path, hdu=hdu, min_side=min_side)
        item = transform(image) if transform is not None else image
    except InputError as exc:
        return Problem(path=exc.source, problem=exc.problem)
    if cache is not None:
        cache.put(path, item)
    return item


def _collect(outcomes, on_error: OnError, result: ReadResult) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Problem):
            if on_error == "fail":
                raise InputError(outcome.path, outcome.problem)
            result.problems.append(outcome)
        else:
            result.items.append(outcome)
