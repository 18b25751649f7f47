"""The user's labels of a run, in ``RUN/labels.csv`` (and marks, in ``RUN/marks.csv``):
written at once, merged, never lost.

Each change is merged into what the file holds at that moment, under a lock, and the file
is replaced atomically: a crash or a closed tab loses nothing already saved, and two open
tabs that label different objects do not overwrite each other's labels.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Mapping
from pathlib import Path

from morphospace.errors import InputError
from morphospace.files import atomic_write

__all__ = ["LabelStore"]


class LabelStore:
    """Labels by object id, kept in a CSV with columns ``id`` and ``column``."""

    def __init__(self, path: str | Path, column: str = "label"):
        self.path = Path(path)
        self.columns = ("id", column)
        self._lock = threading.Lock()

    def read(self) -> dict[str, str]:
        """The labels as the file holds them now (none if there is no file yet)."""
        if not self.path.exists():
            return {}
        try:
            with self.path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(self.path, f"cannot read labels ({exc})") from None
        key, column = self.columns
        if rows and not set(self.columns) <= set(rows[0]):
            raise InputError(self.path, f"needs the columns {key} and {column}")
        return {row[key]: row[column] for row in rows if row[key] and row[column]}

    def update(self, changes: Mapping[str, str | None]) -> dict[str, str]:
        """Set (or, with None or "", remove) the labels of some objects; returns them all."""
        with self._lock:
            labels = self.read()
            for object_id, label in changes.items():
                text = "" if label is None else str(label).strip()
                if text:
                    labels[str(object_id)] = text
                else:
                    labels.pop(str(object_id), None)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(sorted(labels.items()))
            text = buffer.getvalue()
            atomic_write(self.path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
            return labels
