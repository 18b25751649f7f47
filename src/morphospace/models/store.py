"""A trained model's files: ``model.safetensors`` and its typed card, ``model.json``.

Nothing here unpickles code: the weights are safetensors and the card is JSON, validated
on load by :class:`ModelCard`, so a hand-edited or damaged file stops with one line that
names the bad key.

- ``model.safetensors``: the online encoder (backbone and projector) and the embedding
  whitening (keys prefixed ``whitening.``);
- ``model.json``: everything needed to rebuild the network and feed it as in training:
  backbone spec, input channels, BYOL head sizes, preprocessing chain, views, whitening,
  package versions, the weights' SHA-256 and the run it started from.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from safetensors.torch import load_file, save_file
from torch import nn

from morphospace.byol import BYOL
from morphospace.config import validated
from morphospace.errors import InputError
from morphospace.files import atomic_write
from morphospace.models.backbones import build_backbone
from morphospace.models.paths import model_card_path
from morphospace.preprocess import PreprocessChain

if TYPE_CHECKING:
    from morphospace.config import Settings

__all__ = [
    "MODEL_FORMAT",
    "READABLE_FORMATS",
    "CardData",
    "CardTraining",
    "CardViews",
    "Lineage",
    "ModelCard",
    "build_model",
    "load_model",
    "package_versions",
    "read_model_card",
    "save_model",
    "weights_sha256",
]

MODEL_FORMAT = "morphospace-model/2"
#: Cards this version reads: format 1 lacked ``whitening`` and ``lineage``.
READABLE_FORMATS = ("morphospace-model/1", MODEL_FORMAT)
WHITENING = "whitening."  # key prefix of the whitening in model.safetensors


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardData(_Part):
    """How the run read its files."""

    hdu: int | str | None
    min_side: int = Field(ge=1)


class CardViews(_Part):
    """How training framed each object, so that inference frames it alike."""

    view_size: int = Field(ge=1)
    view_mode: Literal["fit", "native"]
    bank_size: int = Field(ge=1)  # side the objects were resampled to before framing


class CardTraining(_Part):
    """What the encoder was trained on and for how long."""

    objects: int = Field(ge=0)
    epochs: int = Field(ge=0)
    steps: int = Field(ge=0)
    history: list[dict[str, Any]] = Field(default_factory=list)


class Lineage(_Part):
    """The model a run started from (``train --init``)."""

    run: str
    weights_sha256: str


class ModelCard(_Part):
    """The typed ``model.json`` of a trained run.

    Training writes it with :func:`save_model`; :func:`read_model_card` validates it, and
    :func:`build_model` rebuilds the architecture it describes.
    """

    format: Literal["morphospace-model/1", "morphospace-model/2"] = MODEL_FORMAT
    backbone: str
    hidden_layer: str | None = None
    in_channels: int = Field(ge=1)
    representation_size: int = Field(ge=1)
    projection_size: int = Field(ge=1)
    projection_hidden_size: int = Field(ge=1)
    preprocess: PreprocessChain
    data: CardData
    views: CardViews
    training: CardTraining
    #: Whether ``model.safetensors`` holds a fitted whitening; ``None`` in format-1 cards,
    #: which did not say (the weights then decide).
    whitening: bool | None = None
    lineage: Lineage | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    weights_sha256: str | None = None  # set by save_model once the weights are written

    @model_validator(mode="after")
    def _format_2_records_whitening(self) -> ModelCard:
        if self.format == MODEL_FORMAT and self.whitening is None:
            raise ValueError("a morphospace-model/2 card must say whether it holds a whitening")
        return self

    def to_json(self) -> str:
        """The card as ``model.json`` text."""
        return self.model_dump_json(indent=2)

    @classmethod
    def of_training(
        cls,
        settings: Settings,
        byol: BYOL,
        *,
        in_channels: int,
        bank_size: int,
        training: CardTraining,
        lineage: Lineage | None = None,
    ) -> ModelCard:
        """The card of ``byol`` trained with ``settings`` on objects of ``in_channels``
        channels kept at ``bank_size`` px (:func:`save_model` adds the versions, the
        whitening and the digest)."""
        s = settings
        return cls(
            backbone=s.model.backbone,
            hidden_layer=s.model.hidden_layer,
            in_channels=in_channels,
            representation_size=byol.representation_size,
            projection_size=s.model.projection_size,
            projection_hidden_size=s.model.projection_hidden_size,
            preprocess=s.preprocess,
            data=CardData(hdu=s.data.hdu, min_side=s.data.min_side),
            views=CardViews(
                view_size=s.augment.view_size, view_mode=s.augment.view_mode, bank_size=bank_size
            ),
            training=training,
            whitening=False,
            lineage=lineage,
        )


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape a model's numbers."""
    versions = {"python": platform.python_version()}
    for package in ("morphospace", "torch", "torchvision", "numpy", "astropy", "safetensors"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def save_model(run_dir: str | Path, byol: BYOL, card: ModelCard) -> ModelCard:
    """Write ``model.safetensors`` (online encoder, whitening) and ``model.json``.

    Returns the card as written: with the package versions and the weights' SHA-256.
    """
    run_dir = Path(run_dir)
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
    written = card.model_copy(
        update={
            "format": MODEL_FORMAT,
            "representation_size": byol.representation_size,
            "whitening": bool(byol.whitening.fitted),
            "versions": package_versions(),
            "weights_sha256": weights_sha256(run_dir),
        }
    )
    atomic_write(run_dir / "model.json", lambda temporary: temporary.write_text(written.to_json()))
    return written


def weights_sha256(run_dir: str | Path) -> str:
    """The SHA-256 of a run's ``model.safetensors``, as its card records it."""
    weights = Path(run_dir) / "model.safetensors"
    digest = hashlib.sha256()
    try:
        with weights.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise InputError(weights, f"cannot read the weights ({exc.strerror})") from None
    return digest.hexdigest()


def read_model_card(run_dir: str | Path) -> ModelCard:
    """The validated ``model.json`` of a run folder."""
    path = model_card_path(run_dir)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    if not isinstance(raw, dict) or raw.get("format") not in READABLE_FORMATS:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise InputError(path, f"unknown model format {found!r}")
    return validated(ModelCard, raw, path)


def build_model(card: ModelCard, **options: Any) -> BYOL:
    """A freshly initialised BYOL module with the architecture ``card`` describes.

    ``options`` (``base_tau``, ``use_momentum``) only matter for training it further.
    """
    return BYOL(
        build_backbone(card.backbone, card.in_channels),
        card.in_channels,
        hidden_layer=card.hidden_layer,
        projection_size=card.projection_size,
        projection_hidden_size=card.projection_hidden_size,
        probe_size=card.views.view_size,
        **options,
    )


def load_model(run_dir: str | Path) -> tuple[BYOL, ModelCard]:
    """Rebuild the trained model of a run from ``model.safetensors`` and ``model.json``.

    Returns the BYOL module in eval mode (use ``.embed(images)``) and its card.
    """
    run_dir = Path(run_dir)
    card = read_model_card(run_dir)
    byol = build_model(card)
    weights = run_dir / "model.safetensors"
    try:
        state = load_file(str(weights))
    except Exception as exc:
        raise InputError(weights, f"cannot read weights ({_first_line(exc)})") from None
    whitening = {k[len(WHITENING) :]: v for k, v in state.items() if k.startswith(WHITENING)}
    encoder = {k: v for k, v in state.items() if not k.startswith(WHITENING)}
    _load_into(
        byol.online_encoder, encoder, weights, "does not match the network model.json describes"
    )
    byol.target_encoder.load_state_dict(encoder, strict=True)
    if card.whitening and not whitening:
        raise InputError(weights, "model.json records a whitening that the weights do not hold")
    if whitening:  # models saved before whitening existed embed unwhitened
        _load_into(byol.whitening, whitening, weights, "holds a whitening of another size")
    return byol.eval(), card


def _load_into(module: nn.Module, state: dict, weights: Path, problem: str) -> None:
    """Load tensors into ``module``; tensors it cannot take are one line naming ``weights``."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(weights, f"{problem} ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
