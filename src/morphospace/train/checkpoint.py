"""Resumable training state, read back without unpickling arbitrary objects.

``RUN/checkpoints/last.pt`` holds the online, predictor and target networks, the
optimiser, the gradient scaler, the step, the epoch and the RNG states as plain tensors and
containers, written atomically and read back with ``torch.load(weights_only=True)``. The
trained model itself (``model.safetensors`` and ``model.json``) belongs to
:mod:`morphospace.models.store`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from morphospace.errors import InputError
from morphospace.files import atomic_write

__all__ = ["load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


def rng_state() -> dict[str, Any]:
    """The global RNGs (torch, CUDA, Python) as weights_only-loadable values.

    The loop itself draws from generators seeded by the step number; these cover anything
    else (a backbone's own dropout, user hooks).
    """
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": list(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version_, internal, gauss = state["python"]
    random.setstate((version_, tuple(internal), gauss))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write resumable training state."""
    atomic_write(path, lambda temporary: torch.save(state, temporary))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read training state written by :func:`save_checkpoint`, without unpickling code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            path, f"cannot read checkpoint ({' '.join(str(exc).split())[:200]})"
        ) from None
