"""Safe checkpoints: nothing here ever unpickles arbitrary objects.

- ``RUN/model.safetensors`` + ``RUN/model.json``: the trained online encoder (backbone and
  projector) and everything needed to rebuild and feed it: backbone spec, input channels,
  preprocessing chain, view settings, package versions.
- ``RUN/checkpoints/last.pt``: resumable state (online, predictor and target networks,
  optimiser, gradient scaler, step, epoch, RNG states) as plain tensors and containers,
  written atomically and read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from morphospace.byol import BYOL
from morphospace.errors import InputError
from morphospace.files import atomic_write
from morphospace.models import build_backbone

MODEL_FORMAT = "morphospace-model/1"
WHITENING = "whitening."  # key prefix of the whitening in model.safetensors


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


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("morphospace", "torch", "torchvision", "numpy", "astropy", "safetensors"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def save_model(run_dir: Path, byol: BYOL, description: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` (online encoder) and ``model.json`` (how to rebuild it)."""
    states = {"": byol.online_encoder.state_dict(), WHITENING: byol.whitening.state_dict()}
    tensors = {
        prefix + name: value.detach().cpu().contiguous()
        for prefix, state in states.items()
        for name, value in state.items()
    }
    weights = run_dir / "model.safetensors"
    atomic_write(
        weights,
        lambda temporary: save_file(tensors, str(temporary), metadata={"format": MODEL_FORMAT}),
    )
    info = {
        "format": MODEL_FORMAT,
        "representation_size": byol.representation_size,
        **description,
        "versions": package_versions(),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    atomic_write(
        run_dir / "model.json", lambda temporary: temporary.write_text(json.dumps(info, indent=2))
    )
    return weights


def read_model_info(run_dir: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a run, checked for format."""
    path = Path(run_dir) / "model.json"
    if not path.exists():
        raise InputError(
            run_dir, "no model.json: not a trained morphospace run (run 'morphospace train')"
        )
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if info.get("format") != MODEL_FORMAT:
        raise InputError(path, f"unknown model format {info.get('format')!r}")
    return info


def build_model(info: dict[str, Any]) -> BYOL:
    """A freshly initialised BYOL module with the architecture a ``model.json`` describes."""
    return BYOL(
        build_backbone(info["backbone"], info["in_channels"]),
        info["in_channels"],
        hidden_layer=info.get("hidden_layer"),
        projection_size=info["projection_size"],
        projection_hidden_size=info["projection_hidden_size"],
        probe_size=int(info.get("views", {}).get("view_size", 64)),
    )


def load_model(run_dir: str | Path) -> tuple[BYOL, dict[str, Any]]:
    """Rebuild the trained model of a run from ``model.safetensors`` and ``model.json``.

    Returns the BYOL module in eval mode (use ``.embed(images)``) and the model description.
    """
    run_dir = Path(run_dir)
    info = read_model_info(run_dir)
    byol = build_model(info)
    weights = run_dir / "model.safetensors"
    try:
        state = load_file(str(weights))
    except Exception as exc:
        raise InputError(
            weights, f"cannot read weights ({' '.join(str(exc).split())[:200]})"
        ) from None
    whitening = {k[len(WHITENING) :]: v for k, v in state.items() if k.startswith(WHITENING)}
    encoder = {k: v for k, v in state.items() if not k.startswith(WHITENING)}
    byol.online_encoder.load_state_dict(encoder, strict=True)
    byol.target_encoder.load_state_dict(encoder, strict=True)
    if whitening:  # models saved before whitening existed embed unwhitened
        byol.whitening.load_state_dict(whitening, strict=True)
    return byol.eval(), info
