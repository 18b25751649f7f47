"""Work spread over a Dask cluster: ``--cluster tcp://HOST:8786`` or ``--cluster local:N``.

Dask distributed does the scheduling: it sends each partition to a worker, retries a
partition whose worker died and brings the results back. morphospace only says what one
partition is (a slice of the objects) and what it writes (its own file, atomically, so a
retried partition replaces its own file). ``local:N`` starts a ``LocalCluster`` of N
worker processes of one thread each; an address connects to a running scheduler (one
started by ``dask scheduler``, or by ``dask-jobqueue`` on SLURM or PBS).

Dask is the optional ``cluster`` extra (``pip install "morphospace[cluster]"``); a command
given ``--cluster`` without it says so in one line.

with connect("local:2") as client:
    sizes = run_partitions(client, len, [[1, 2], [3]])  # [2, 1], in partition order
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from morphospace.errors import InputError
from morphospace.progress import progress_bar

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CLUSTER_EXTRA",
    "CONNECT_TIMEOUT",
    "check_cluster",
    "connect",
    "needs_extra",
    "on_worker",
    "run_partitions",
    "worker_count",
]

#: How to install what ``--cluster`` and ``export --hats`` need.
CLUSTER_EXTRA = 'pip install "morphospace[cluster]"'
#: Seconds to wait for a scheduler to answer before saying that none does.
CONNECT_TIMEOUT = 30
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc)://\S+$")
_LOCAL = re.compile(r"^local:(\d+)$")

T = TypeVar("T")


def needs_extra(module: str, what: str) -> ModuleType:
    """Import ``module`` of the ``cluster`` extra, or say in one line, naming ``what``
    needs it, which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(what, f"needs {module}, of the cluster extra: {CLUSTER_EXTRA}") from None


def check_cluster(spec: str) -> str:
    """``spec`` when it names a cluster: ``local:N`` (N ≥ 1) or a scheduler's address
    (``tcp://HOST:PORT``, ``tls://…``); else one line saying what is wanted."""
    local = _LOCAL.match(spec)
    if local is not None and int(local.group(1)) >= 1:
        return spec
    if local is None and _ADDRESS.match(spec):
        return spec
    raise InputError(
        "--cluster", f"give local:N (N worker processes here) or tcp://HOST:PORT, not {spec!r}"
    )


@contextmanager
def connect(spec: str) -> Iterator[Client]:
    """A Dask client of the cluster ``spec`` names (:func:`check_cluster`); a
    ``LocalCluster`` started for ``local:N`` is closed again on the way out."""
    check_cluster(spec)
    distributed = needs_extra("distributed", "--cluster")
    local = _LOCAL.match(spec)
    if local is not None:
        with (
            _environment_kept(),
            distributed.LocalCluster(
                n_workers=int(local.group(1)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: never "8787 is in use"
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(spec, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise InputError(spec, f"no Dask scheduler answers there ({_short(exc)})") from None
    with client:
        yield client


@contextmanager
def _environment_kept() -> Iterator[None]:
    """This process's environment as it was, on the way out.

    A ``LocalCluster``'s nannies run in this process and set, in its own environment, what
    they give the workers they start (``OMP_NUM_THREADS=1``, ``MALLOC_TRIM_THRESHOLD_``,
    …); every process started from here afterwards (a ``torchrun``, a thumbnail pool)
    would otherwise run on one thread."""
    kept = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(kept)


def worker_count(client: Client) -> int:
    """How many worker threads the cluster has now (at least one)."""
    return max(1, sum(client.nthreads().values()))


def run_partitions(
    client: Client,
    function: Callable[..., T],
    partitions: Sequence[Any],
    *args: Any,
    progress: bool = False,
    description: str = "",
) -> list[T]:
    """``function(partition, *args)`` for every partition, on the cluster's workers; the
    results in partition order.

    A partition whose worker dies is run again on another (Dask's own retry); an error
    raised by ``function`` (an :class:`InputError` naming a file, say) cancels the rest and
    is raised here as it was raised there.
    """
    distributed = needs_extra("distributed", "--cluster")
    shared = [client.scatter(arg, broadcast=True) if _large(arg) else arg for arg in args]
    futures = [client.submit(function, part, *shared, pure=False) for part in partitions]
    try:
        done = distributed.as_completed(futures, with_results=False)
        for future in progress_bar(done, description, progress, total=len(futures), delay=0):
            if future.status == "error":
                future.result()  # raises the partition's own error
        return [future.result() for future in futures]
    finally:
        client.cancel(futures)


_READY = False


def on_worker() -> None:
    """Ready a Dask worker process for morphospace's tasks (once; cheap after that).

    Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``, so that the
    worker hands freed memory back to the system at once. For torch that means every
    batch's buffers go back to the kernel and are faulted in again: embedding ran 34 %
    slower for it (8.0 s against 6.0 s for 2,500 objects). glibc's allocator is given the
    limits of an ordinary process instead (the largest it reaches by itself: buffers
    under 32 MiB reused, memory handed back above 64 MiB free), which measured as fast as
    one process. Elsewhere than glibc, nothing changes.
    """
    global _READY
    if _READY:
        return
    _READY = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 64 * 2**20)


def _large(value: Any) -> bool:
    """Whether a shared argument is sent to each worker once (over a megabyte pickled),
    rather than with each task."""
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) > 1_000_000


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
