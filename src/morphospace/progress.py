"""Progress bars that appear only for work that takes more than a second."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["DELAY", "progress_bar", "stages"]

T = TypeVar("T")
DELAY = 1.0  # seconds before a bar is drawn: quick commands stay quiet


def progress_bar(items: Iterable[T], description: str, enabled: bool, **options) -> Iterable[T]:
    """``items``, with a bar when ``enabled`` and the loop lasts more than :data:`DELAY`."""
    return tqdm(items, desc=description, delay=DELAY, disable=not enabled, **options)


@contextmanager
def stages(description: str, total: int | None, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A bar over named stages: call the yielded function as each stage starts."""
    with tqdm(
        total=total, desc=description, unit="step", delay=DELAY, disable=not enabled, leave=False
    ) as bar:
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
