"""Share a list of work items between this process and forked copies of it.

Embedding on the CPU is bound by per-file Python work (reading headers, preprocessing),
so it scales with processes, not threads. Forked children inherit the model and every
setting as they are, so nothing is pickled on the way in; only results come back. This
process works too, instead of waiting, which saves one fork and its exit.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from tqdm.auto import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


def can_fork() -> bool:
    """True where processes can be forked (Linux, macOS; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def _frozen_gc() -> Iterator[None]:
    """Leave the objects that exist now out of garbage collection for the duration.

    A full collection in a process that holds torch and astropy walks millions of objects
    (150-250 ms here), and in a forked child it would also copy every page it touches.
    Does nothing if the caller has frozen objects already.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def fork_map(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    processes: int,
    *,
    progress: bool = False,
    desc: str = "",
) -> list[Result]:
    """``[function(item) for item in items]``, computed by this process and ``processes - 1`` forks.

    Every process takes the next item nobody has taken yet, so the work balances itself,
    and runs torch on one thread (one core each). The first exception, in any process,
    stops the others taking items and is raised here. Needs :func:`can_fork`.
    """
    processes = max(1, min(processes, len(items)))
    claimed = multiprocessing.get_context("fork").Value("q", 0)

    def claim() -> int | None:
        with claimed.get_lock():
            index = claimed.value
            claimed.value = index + 1
        return index if index < len(items) else None

    def stop_claiming() -> None:
        with claimed.get_lock():
            claimed.value = len(items)

    def work(bar: tqdm | None = None) -> dict[int, Result]:
        done: dict[int, Result] = {}
        while (index := claim()) is not None:
            done[index] = function(items[index])
            if bar is not None:
                bar.update(min(claimed.value, len(items)) - bar.n)
        return done

    children: list[_Child] = []
    threads = torch.get_num_threads()
    finished = False
    with _frozen_gc():
        try:
            for _ in range(processes - 1):
                children.append(_fork_child(work, stop_claiming))
            torch.set_num_threads(1)
            with tqdm(total=len(items), desc=desc, unit="chunk", disable=not progress) as bar:
                results = work(bar)
                for child in children:
                    results.update(child.results())
                bar.update(len(items) - bar.n)
            finished = True
        except BaseException:
            stop_claiming()
            raise
        finally:
            torch.set_num_threads(threads)
            if finished:  # the children have sent everything: let them exit (~20 ms) meanwhile
                threading.Thread(target=_reap_all, args=(children,), daemon=True).start()
            else:
                _reap_all(children, stop=True)
    return [results[index] for index in range(len(items))]


def _reap_all(children: Sequence[_Child], stop: bool = False) -> None:
    for child in children:
        child.reap(stop)


class _Child:
    """A forked worker: its process id and the read end of the pipe its results come by."""

    def __init__(self, pid: int, reader: int):
        self.pid = pid
        self.pipe = os.fdopen(reader, "rb")
        self.ended: str | None = None  # how the process ended, once reaped

    def results(self) -> dict:
        try:
            kind, value = pickle.load(self.pipe)
        except (EOFError, pickle.UnpicklingError):  # it died before or while sending
            raise RuntimeError(
                f"a worker process died before returning its results ({self.reap()})"
            ) from None
        finally:
            self.pipe.close()
        if kind == "error":
            raise value
        return value

    def reap(self, stop: bool = False) -> str:
        """Wait for the process to end (stopping it first if ``stop``); how it ended."""
        self.pipe.close()
        if self.ended is None:  # never signal a reaped pid: the system may have reused it
            if stop:
                os.kill(self.pid, signal.SIGTERM)
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped elsewhere (a SIGCHLD handler, a waitpid(-1))
                self.ended = "reaped elsewhere"
                return self.ended
            if os.WIFSIGNALED(status):
                self.ended = f"killed by signal {os.WTERMSIG(status)}"
            else:
                self.ended = f"exit status {os.waitstatus_to_exitcode(status)}"
        return self.ended


def _fork_child(work: Callable[[], dict], stop_claiming: Callable[[], None]) -> _Child:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return _Child(pid, reader)
    # The child: never return into the caller's code, whatever happens.
    status = 1
    try:
        os.close(reader)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
        torch.set_num_threads(1)
        try:
            outcome: tuple[str, Any] = ("ok", work())
        except BaseException as error:  # sent whole to the parent, which raises it
            stop_claiming()
            outcome = ("error", error)
        try:
            payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an unpicklable result or error: its description still arrives
            payload = pickle.dumps(("error", RuntimeError(repr(outcome[1]))))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)
