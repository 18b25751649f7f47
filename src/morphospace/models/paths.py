"""Where a run folder keeps its model card, checked without loading torch."""

from __future__ import annotations

from pathlib import Path

from morphospace.errors import InputError

__all__ = ["model_card_path"]


def model_card_path(run_dir: str | Path) -> Path:
    """The ``model.json`` of a run folder; a folder without one is refused in one line."""
    path = Path(run_dir) / "model.json"
    if not path.exists():
        raise InputError(
            run_dir, "no model.json: not a trained morphospace run (run 'morphospace train')"
        )
    return path
