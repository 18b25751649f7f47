"""Writing files so that a crash or a bad input never leaves a half-written result."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from morphospace.errors import InputError

__all__ = ["LOCK_NAME", "atomic_write", "folder_lock", "safe_filename", "save_npy"]


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through ``write(temporary_path)``, then rename over ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp makes the file private (0600); give it the mode any new file would get
        # (or the mode of the file it replaces), so colleagues and web folders can read it
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except OSError as exc:  # a full disk, a lost mount: name the file that was not written
        Path(temporary).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The permission bits of the file that ``path`` holds, or of a new file (umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def safe_filename(text: str) -> str:
    """``text`` usable in a file name: runs of other characters become one underscore."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to exactly ``path`` (np.save would append ".npy" to a bare name)."""
    with Path(path).open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


LOCK_NAME = ".morphospace.lock"
_held: dict[Path, int] = {}  # folders this process holds, and how many times over


@contextmanager
def folder_lock(folder: str | Path, command: str) -> Iterator[None]:
    """Hold ``folder`` for one command at a time: a second process gets a clear error.

    The lock file records the owner's PID, host and command. A lock whose process is gone
    (same host, no such PID) is stale and taken over with a warning. The same process may
    take a folder it already holds (``run`` trains, embeds and reports in one).
    """
    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
             "since": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    while True:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder is not None and not _gone(holder):
                raise InputError(
                    folder,
                    f"is in use by process {holder['pid']} ({holder.get('command', '?')}, since "
                    f"{holder.get('since', '?')}); wait for it to finish, or delete {path} "
                    "if that process is gone",
                ) from None
            warnings.warn(f"{folder}: took over the lock of a process that is gone", stacklevel=3)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(handle, "w") as out:
            json.dump(owner, out)
        break
    _held[folder] = 1
    try:
        yield
    finally:
        del _held[folder]
        path.unlink(missing_ok=True)


def _read_lock(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # torn or unreadable: its writer died while writing it
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _gone(holder: dict) -> bool:
    """True when the lock's process no longer runs (known only on the same host)."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False
