"""Errors that users see: each one is a single line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "MorphospaceError"]


class MorphospaceError(Exception):
    """Base class of all errors that morphospace raises on purpose."""


class InputError(MorphospaceError, ValueError):
    """A bad input: a file, list, catalogue or setting that morphospace cannot use.

    Parameters
    ----------
    source : str or Path
        The file (or other input) at fault. It is always named in the message.
    problem : str
        What is wrong, in a few words. Newlines are folded so the message stays on one line.
    """

    def __init__(self, source: str | Path, problem: str):
        self.source = str(source)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.source}: {self.problem}")

    def __reduce__(self):  # rebuilt from both parts when it crosses from a worker process
        return type(self), (self.source, self.problem)
