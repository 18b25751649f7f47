"""Where a network runs: a device setting (``auto``, ``cpu``, ``cuda:1``, …) resolved once."""

from __future__ import annotations

import torch

from morphospace.choices import DEVICE
from morphospace.errors import InputError

__all__ = ["resolve_device"]


def resolve_device(wanted: str | torch.device = DEVICE, option: str = "--device") -> torch.device:
    """The torch device a setting names; ``auto`` is the first CUDA GPU when one is visible,
    else the CPU. A device already resolved comes back as it is."""
    if isinstance(wanted, torch.device):
        return wanted
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(wanted)
    except RuntimeError:
        raise InputError(
            option, f"{wanted!r} is not a device; use auto, cpu, cuda or cuda:N"
        ) from None
