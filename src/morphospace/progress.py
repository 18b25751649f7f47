"""Progress: bars in a terminal, plain lines in a log, nothing for work under a second.

In a terminal (or a notebook) a bar is drawn as usual. When stderr is a file or a pipe (a
SLURM log, say), progress is one plain line every :data:`LOG_INTERVAL` seconds and one at
the end, without carriage returns, so a job of hours leaves a readable log instead of a
redraw ten times a second. Every progress display of morphospace goes through
:func:`progress_bar`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from tqdm.auto import tqdm

__all__ = ["DELAY", "LOG_INTERVAL", "progress_bar", "stages"]

T = TypeVar("T")
DELAY = 1.0  # seconds before a bar is drawn: quick commands stay quiet
LOG_INTERVAL = 30.0  # seconds between progress lines when stderr is not a terminal


class _Lines:
    """A stream that writes each of tqdm's redraws as a line of its own."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _LogBar(tqdm):
    """A bar for a log: a new postfix (the loss of each step) waits for the next line."""

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        super().set_postfix_str(s, refresh=False)


def _to_a_log() -> bool:
    stream = sys.stderr
    interactive = getattr(stream, "isatty", lambda: False)()
    return not interactive and "ipykernel" not in sys.modules


def progress_bar(items: Iterable[T] | None = None, description: str = "", enabled: bool = True,
                 **options: Any) -> tqdm:  # fmt: skip
    """``items``, with a bar when ``enabled`` and the loop lasts more than :data:`DELAY`
    (a line every :data:`LOG_INTERVAL` seconds when stderr is not a terminal).
    ``options`` go to tqdm (``total``, ``unit``, ``leave``, …)."""
    options.setdefault("delay", DELAY)
    if _to_a_log():
        options.update(file=_Lines(sys.stderr), mininterval=LOG_INTERVAL, ascii=True)
        return _LogBar(items, desc=description, disable=not enabled, **options)
    return tqdm(items, desc=description, disable=not enabled, **options)


@contextmanager
def stages(description: str, total: int | None, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A bar over named stages: call the yielded function as each stage starts."""
    with progress_bar(None, description, enabled, total=total, unit="step", leave=False) as bar:
        started = False

        def step(name: str) -> None:
            nonlocal started
            bar.set_postfix_str(name, refresh=False)  # drawn by the update, once it is due
            if started:
                bar.update()  # the stage before this one is done
            started = True

        yield step
        if started:
            bar.update()
