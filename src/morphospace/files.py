"""Writing files so that a crash or a bad input never leaves a half-written result."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through ``write(temporary_path)``, then rename over ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def safe_filename(text: str) -> str:
    """``text`` usable in a file name: runs of other characters become one underscore."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to exactly ``path`` (np.save would append ".npy" to a bare name)."""
    with Path(path).open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
