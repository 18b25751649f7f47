"""Turn what a user typed (directories, globs, files, file lists) into a list of FITS paths."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from pathlib import Path

from morphospace.errors import InputError
from morphospace.io.fits import is_fits_name
from morphospace.io.stacks import (
    HDF5_SUFFIXES,
    is_stack,
    open_stack,
    split_address,
    stack_addresses,
)

__all__ = ["find_sources", "object_id", "read_file_list"]

_GLOB_CHARS = set("*?[")
_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"
_INLINE_COMMENT = re.compile(r"\s#")
#: Picture formats a newcomer may point morphospace at; named when no FITS file is found.
_PICTURES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
             ".gif": "GIF", ".bmp": "BMP", ".webp": "WebP"}  # fmt: skip


def find_sources(specs: str | Path | Iterable[str | Path]) -> list[Path]:
    """Expand source specifications into FITS file paths, in a stable order, without duplicates.

    Each spec may be:

    - a directory, searched recursively for ``*.fits``, ``*.fit``, ``*.fts``, ``*.fz`` and
      their ``.gz`` forms;
    - a glob such as ``data/**/*.fits``;
    - a single FITS file;
    - a cutout stack (HDF5, or FITS with a table): every object in it, each addressed
      ``STACK#INDEX`` (:mod:`morphospace.io.stacks`);
    - a text file list in astromorph's format: one path per line, blank lines and ``#``
      comments allowed, relative paths taken relative to the list's own folder.

    Files named in a list are not opened here, so a missing entry is reported by the reader
    under the batch's ``on_error`` policy rather than aborting discovery.

    Raises
    ------
    InputError
        If a spec does not exist, a glob or directory holds no FITS file, or a list is empty.
    """
    if isinstance(specs, (str, Path)):
        specs = [specs]
    found: dict[Path, None] = {}
    for spec in specs:
        for path in _expand(spec):
            found.setdefault(path, None)
    return list(found)


def read_file_list(path: str | Path) -> list[Path]:
    """Read an astromorph-style file list: one path per line, ``#`` comments and blanks skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "neither a FITS file nor a text file list") from None
    except OSError as exc:
        raise InputError(path, f"cannot read file list ({exc.strerror})") from None
    entries = []
    for line in text.splitlines():
        # '#' starts a comment at the start of a line or after a space; file names may hold '#'.
        entry = _INLINE_COMMENT.split(line, maxsplit=1)[0].strip()
        if entry and not entry.startswith("#"):
            entry_path = Path(entry).expanduser()
            entries.append(entry_path if entry_path.is_absolute() else path.parent / entry_path)
    if not entries:
        raise InputError(path, "file list has no entries")
    if not any(is_fits_name(entry) or entry.exists() for entry in entries):
        raise InputError(
            path,
            f"not a file list: none of its {len(entries)} lines names an existing file or a "
            "FITS file",
        )
    return entries


def _expand(spec: str | Path) -> list[Path]:
    text = str(spec)
    path = Path(text).expanduser()
    if not path.exists() and _GLOB_CHARS & set(text):
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in matches if p.is_file() and is_fits_name(p)]
        if not files:
            raise InputError(text, "glob matches no FITS files" + _pictures_among(matches))
        return files
    if not path.exists():
        if split_address(text) is not None:  # one object of a stack, STACK#INDEX
            return [path]
        raise InputError(text, "no such file or directory")
    if path.is_dir():
        files = _fits_files_under(path)
        if not files:
            found = _pictures_among(path.rglob("*"))
            raise InputError(path, "no FITS files found (searched recursively)" + found)
        return files
    if path.suffix.lower() in HDF5_SUFFIXES or (_starts_like_fits(path) and is_stack(path)):
        return stack_addresses(path)  # every object of a cutout stack
    if is_fits_name(path) or _starts_like_fits(path):
        return [path]
    return read_file_list(path)


def _pictures_among(paths: Iterable[Path]) -> str:
    """``"; found 212 PNG files: morphospace reads FITS"``, or ``""`` when there are none."""
    counts: dict[str, int] = {}
    for path in paths:
        kind = _PICTURES.get(path.suffix.lower())
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return ""
    most = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    found = ", ".join(f"{n} {kind} file{'s' if n > 1 else ''}" for kind, n in most)
    return f"; found {found}: morphospace reads FITS images and cubes"


def _fits_files_under(folder: Path) -> list[Path]:
    """FITS files anywhere below ``folder``, ordered as sorted ``Path`` objects are.

    ``os.scandir`` knows each entry's type without a ``stat`` call: several times faster
    than ``rglob`` and ``is_file`` on folders of many small files. Like ``rglob``, it does
    not descend into symbolic links to folders, and it skips folders it may not read.
    """
    found: list[str] = []
    pending = [str(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif is_fits_name(entry.name) and entry.is_file():
                        found.append(entry.path)
        except PermissionError:
            continue
    # Paths compare part by part ("a/b" before "a-c"), unlike their strings.
    return [Path(p) for p in sorted(found, key=lambda p: p.split(os.sep))]


def _starts_like_fits(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_FITS_MAGIC))
    except OSError:
        return False
    return head == _FITS_MAGIC or head.startswith(_GZIP_MAGIC)


def object_id(path: str | Path) -> str:
    """An object's id: its file name without the FITS suffix.

    A name without a FITS suffix is kept whole: survey names such as
    ``0.878_0.466_3_Proctor_Tab1`` hold dots that are not suffixes. An object of a stack
    (``STACK#INDEX``) has the id its stack's table gives it.
    """
    address = split_address(path)
    if address is not None:
        return open_stack(address[0]).ids[address[1]]
    name = Path(path).name
    for suffix in (".fits.gz", ".fits.fz", ".fits", ".fit", ".fz", ".fts"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
