"""Start from an earlier run's model: ``train --init RUN/`` (settings section ``finetune``).

Encoder weights learnt on a large set transfer to a smaller one: the earlier backbone (and,
with ``finetune.heads``, its projector) is loaded into the new network, the backbone's
first ``finetune.freeze`` convolutions keep their weights, and training follows the
gentler fine-tuning schedule. The architecture must agree with the earlier model's, and
the new run's ``model.json`` records where it started (``lineage``).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from morphospace.byol import BYOL
from morphospace.config import Settings
from morphospace.errors import InputError
from morphospace.models import ModelCard, load_model, read_model_card
from morphospace.models.store import Lineage

__all__ = [
    "ARCHITECTURE",
    "BACKBONE",
    "architecture_of",
    "check_agreement",
    "earlier_card",
    "early_layers",
    "lineage",
    "schedule",
    "start_from",
]

#: What must agree with the earlier model: the backbone always, the projector with ``heads``.
BACKBONE = ("backbone", "hidden_layer")
ARCHITECTURE = (*BACKBONE, "projection_size", "projection_hidden_size")


def architecture_of(card: ModelCard) -> dict[str, object]:
    """The earlier model's architecture as dotted settings (``model.backbone``, …)."""
    return {f"model.{key}": getattr(card, key) for key in ARCHITECTURE}


def earlier_card(settings: Settings) -> ModelCard | None:
    """The card of the run to start from, or None when training starts from scratch."""
    if settings.finetune.from_run is None:
        return None
    return read_model_card(Path(settings.finetune.from_run))


def check_agreement(settings: Settings, card: ModelCard, channels: int) -> None:
    """Refuse a network or data that the earlier model's weights cannot fit."""
    where = Path(settings.finetune.from_run or ".") / "model.json"
    for key in ARCHITECTURE if settings.finetune.heads else BACKBONE:
        value = getattr(settings.model, key)
        if getattr(card, key) != value:
            raise InputError(
                where,
                f"the earlier model has {key} = {getattr(card, key)!r}, these settings ask "
                f"for {value!r}: set model.{key} = {getattr(card, key)!r}, or leave it out",
            )
    if card.in_channels != channels:
        raise InputError(
            where,
            f"the earlier model reads {card.in_channels} channel(s), these objects have "
            f"{channels}: preprocess them to the same channels",
        )


def start_from(byol: BYOL, settings: Settings, load: bool = True) -> None:
    """Load the earlier run's weights into ``byol`` (unless ``load`` is False: a resumed
    run has its own), and freeze the backbone's first ``finetune.freeze`` convolutions."""
    f = settings.finetune
    if load:
        earlier, _ = load_model(Path(f.from_run))
        parts = ("backbone", "projector") if f.heads else ("backbone",)
        for part in parts:
            mine, theirs = (getattr(b.online_encoder, part) for b in (byol, earlier))
            mine.load_state_dict(theirs.state_dict())
        byol.target_encoder.load_state_dict(byol.online_encoder.state_dict())
    frozen = early_layers(byol.online_encoder.backbone, f.freeze)
    for layer in frozen:
        layer.requires_grad_(False)


def early_layers(backbone: nn.Module, n: int) -> list[nn.Module]:
    """The backbone's layers up to its ``n``-th convolution, with their normalisation
    layers: what ``finetune.freeze = n`` keeps, whatever the backbone's structure."""
    if n == 0:
        return []
    leaves = [m for m in backbone.modules() if not list(m.children())]
    convolutions = [i for i, m in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    if n > len(convolutions):
        raise InputError(
            "finetune.freeze", f"the backbone has {len(convolutions)} convolutions; got {n}"
        )
    end = convolutions[n] if n < len(convolutions) else len(leaves)
    return leaves[:end]


def schedule(settings: Settings) -> tuple[float, float]:
    """The peak learning rate and warm-up epochs: fine-tuning's when starting from a run."""
    if settings.finetune.from_run is None:
        return settings.train.learning_rate, settings.train.warmup_epochs
    return settings.finetune.learning_rate, settings.finetune.warmup_epochs


def lineage(settings: Settings, card: ModelCard | None) -> Lineage | None:
    """What the new model card records of the run it started from."""
    if card is None:
        return None
    return Lineage(run=str(settings.finetune.from_run), weights_sha256=card.weights_sha256 or "")
