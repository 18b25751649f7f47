"""Settings: pydantic models loaded from TOML, with CLI overrides and astromorph compatibility.

A morphospace settings file has up to five sections; every key is optional::

    [data]
    sources = ["data/"]

    [model]
    backbone = "resnet18:layer2"

    [augment]
    view_size = 64

    [train]
    epochs = 50

    [[preprocess.steps]]
    step = "channels"
    ...

Listing ``[[preprocess.steps]]`` replaces the whole default chain (``channels``,
``cap_size``, ``fill``, ``crop``, ``noise_stretch``, ``normalise``): list every step
wanted. ``docs/training.md`` has the default chain as TOML to copy.

An unknown key is an error that names it and suggests the closest valid key. An
astromorph 0.1.2 settings file (``datafile``, ``network_name``, ``byol_settings``, …) is
recognised and mapped onto these settings, with one warning listing keys that no longer
matter.
"""

from __future__ import annotations

import difflib
import sys
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from morphospace.augment import AugmentSettings
from morphospace.choices import DEVICE, MIN_SIDE, ON_ERROR, OnError
from morphospace.errors import InputError
from morphospace.preprocess import PreprocessChain

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "AUTO_EPOCH_DRAWS",
    "AUTO_EPOCH_MAX_DRAWS",
    "AUTO_EPOCH_RANGE",
    "DataSettings",
    "FinetuneSettings",
    "ModelSettings",
    "Settings",
    "TrainSettings",
    "from_astromorph",
    "is_astromorph_settings",
    "load_settings",
    "parse_assignments",
    "validate_settings",
    "validated",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSettings(_Section):
    """Where the objects come from and how bad files are treated."""

    sources: list[str] = Field(default_factory=list)
    hdu: int | str | None = None
    min_side: int = Field(default=MIN_SIDE, ge=1)
    on_error: OnError = ON_ERROR
    cache: bool = True  # keep preprocessed objects in RUN/cache so files are decoded once


class ModelSettings(_Section):
    """The backbone and the BYOL heads."""

    backbone: str = "resnet18:layer2"
    hidden_layer: str | None = None
    projection_size: int = Field(default=256, ge=1)
    projection_hidden_size: int = Field(default=1024, ge=1)
    base_tau: float = Field(default=0.99, ge=0, le=1)
    use_momentum: bool = True
    # A VICReg-style variance term against collapse, added to the BYOL loss; 0: the paper's BYOL.
    variance_weight: float = Field(default=0.0, ge=0)
    # Nearest-neighbour targets from a queue of this many recent target projections
    # (NNCLR/MSF); 0: the paper's BYOL, whose target is the other view itself.
    neighbour_queue: int = Field(default=0, ge=0)
    neighbours: int = Field(default=1, ge=1)  # targets average this many neighbours


#: ``epochs = "auto"``: as many epochs as it takes to draw about this many objects (two
#: views each), within ``AUTO_EPOCH_RANGE``. At the default 32 px views that is about
#: 13 minutes on 2 CPU cores whatever the size of the set.
AUTO_EPOCH_DRAWS = 270_000
AUTO_EPOCH_RANGE = (20, 300)
#: ... and never more than this many draws (about 26 minutes on 2 CPU cores): past 27,000
#: objects the 20 epochs of the range give way to fewer (5 for 100,000), and past this
#: many objects one epoch draws this many of them, a new random subset each epoch.
AUTO_EPOCH_MAX_DRAWS = 540_000


class TrainSettings(_Section):
    """Optimisation, schedule, precision, hardware and logging."""

    epochs: int | Literal["auto"] = "auto"
    batch_size: int = Field(default=64, ge=2)
    optimizer: Literal["adamw", "lars"] = "adamw"
    learning_rate: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    lr_schedule: Literal["cosine", "exponential", "constant"] = "cosine"
    warmup_epochs: float = Field(default=2.0, ge=0)
    gamma: float = Field(default=0.99, gt=0, le=1)  # per-epoch decay, exponential schedule
    grad_clip: float = Field(default=3.0, ge=0)  # max gradient norm; 0 switches it off
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True  # NHWC memory layout: faster convolutions on CPU and GPU
    compile: bool = False
    workers: int = Field(default=0, ge=0)  # DataLoader worker processes
    threads: int | None = Field(default=None, ge=1)  # torch CPU threads
    seed: int = 0
    val_fraction: float = Field(default=0.1, ge=0, lt=1)
    device: str = DEVICE  # auto, cpu, cuda, cuda:1, …
    sync_batchnorm: bool = False
    bank_scale: float = Field(default=1.5, ge=1)  # objects kept at bank_scale * view_size px
    # a bank larger than this (GiB as float32) is kept on disk as float16, memory-mapped
    bank_memory_gib: float = Field(default=4.0, ge=0)
    checkpoint_every: int = Field(default=1, ge=1)  # epochs
    log_every: int = Field(default=10, ge=1)  # steps

    @field_validator("epochs", mode="before")
    @classmethod
    def _positive_or_auto(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and value >= 1):
            return value
        raise ValueError(f'must be a whole number of at least 1, or "auto"; got {value!r}')

    def epochs_for(self, n_objects: int) -> int:
        """Epochs to train on ``n_objects`` training objects: ``epochs``, or if ``"auto"``,
        enough to draw about :data:`AUTO_EPOCH_DRAWS` objects (20 to 300 epochs), and never
        more than :data:`AUTO_EPOCH_MAX_DRAWS` (at least one epoch)."""
        if self.epochs != "auto":
            return self.epochs
        low, high = AUTO_EPOCH_RANGE
        n = max(n_objects, 1)
        epochs = int(min(max(round(AUTO_EPOCH_DRAWS / n), low), high))
        return max(1, min(epochs, round(AUTO_EPOCH_MAX_DRAWS / n)))

    def draws_per_epoch(self, n_objects: int) -> int:
        """Objects drawn in one epoch: all of them, but with ``epochs = "auto"`` never more
        than :data:`AUTO_EPOCH_MAX_DRAWS`, so training a set larger than that takes the
        same time as training one of that size."""
        if self.epochs != "auto":
            return n_objects
        return min(n_objects, AUTO_EPOCH_MAX_DRAWS)


class FinetuneSettings(_Section):
    """Start from an earlier run's model and fine-tune it (``train --init RUN/``).

    The earlier run's backbone weights are loaded (and its projector with ``heads``); the
    architecture must agree with it. Training then follows its own gentler schedule: these
    learning rate and warm-up replace ``train.learning_rate`` and ``train.warmup_epochs``.
    """

    from_run: str | None = None  # the earlier run folder (holds model.json)
    learning_rate: float = Field(default=5e-4, gt=0)  # a quarter of training's from scratch
    warmup_epochs: float = Field(default=2.0, ge=0)
    freeze: int = Field(default=0, ge=0)  # the backbone's first N convolutions stay as loaded
    heads: bool = False  # also load the projector (the predictor always starts anew)


class Settings(_Section):
    """Everything a training run needs; ``RUN/config.toml`` holds the resolved copy."""

    data: DataSettings = Field(default_factory=DataSettings)
    preprocess: PreprocessChain = Field(default_factory=PreprocessChain.default)
    model: ModelSettings = Field(default_factory=ModelSettings)
    augment: AugmentSettings = Field(default_factory=AugmentSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)

    def to_toml(self) -> str:
        """TOML text that :func:`load_settings` reads back to equal settings."""
        import tomli_w

        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))


def load_settings(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> Settings:
    """Read settings from a morphospace or astromorph TOML file, then apply overrides.

    Parameters
    ----------
    path : path, optional
        The settings file; without one, the defaults.
    overrides : dict, optional
        Dotted keys such as ``{"train.epochs": 5}`` or ``{"preprocess.steps.3.margin": 0.2}``
        (list items by position, from 0); they win over the file. ``None`` values are
        ignored.
    base : dict, optional
        Dotted keys that replace the defaults: the file and the overrides win over them
        (an earlier model's architecture, for ``train --init``).

    Raises
    ------
    InputError
        For an unreadable file, an unknown key (with a suggestion) or an invalid value.
    """
    source = str(path) if path is not None else "command line"
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(Path(path))
        if is_astromorph_settings(raw):
            raw = from_astromorph(raw, Path(path))
    for dotted, value in (base or {}).items():
        if value is not None and not _has_dotted(raw, dotted):
            _set_dotted(raw, dotted, value, source)
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    if any(part.isdigit() for key in overrides for part in key.split(".")):
        # A key into a list (a preprocessing step) needs the list the defaults would give.
        raw = validate_settings(raw, source).model_dump(mode="json")
    for dotted, value in overrides.items():
        _set_dotted(raw, dotted, value, source)
    return validate_settings(raw, source)


def parse_assignments(assignments: list[str], option: str = "--set") -> dict[str, Any]:
    """``["train.epochs=50", "data.hdu=SCI"]`` as dotted overrides for :func:`load_settings`.

    Each value is read as a TOML value (``50``, ``1e-3``, ``true``, ``[1, 1]``,
    ``"text"``); anything TOML cannot read is taken as plain text.
    """
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        key = key.strip()
        if not equals or not key or any(not part for part in key.split(".")):
            raise InputError(option, f"expects SECTION.KEY=VALUE, got {assignment!r}")
        try:
            value = tomllib.loads(f"value = {text.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        overrides[key] = value
    return overrides


def validate_settings(raw: dict[str, Any], source: str = "settings") -> Settings:
    """Validate a settings dictionary; errors name the key and suggest the closest valid one."""
    return validated(Settings, raw, source)


Model = typing.TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], raw: Any, source: str | Path) -> Model:
    """``model`` validated from ``raw``, or an :class:`InputError` from ``source`` naming the
    first bad key (with the closest valid key for an unknown one)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InputError(source, _describe(model, exc.errors()[0])) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputError(path, "no such settings file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read settings ({exc.strerror})") from None


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    *parents, key = dotted.split(".")
    node: Any = raw
    for depth, part in enumerate(parents):
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parents[: depth + 1]), source)]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise InputError(source, f"'{'.'.join(parents[: depth + 1])}' holds no keys")
    if isinstance(node, list):
        node[_list_index(node, key, dotted, source)] = value
    else:
        node[key] = value


def _has_dotted(raw: dict[str, Any], dotted: str) -> bool:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _list_index(items: list, part: str, where: str, source: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise InputError(
            source, f"'{where}': a list of {len(items)} items takes an index 0-{len(items) - 1}"
        )
    return int(part)


def _describe(root: type[BaseModel], error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = ".".join(str(part) for part in loc)
    if error["type"] == "missing":
        return f"missing key '{where}'"
    if error["type"] == "extra_forbidden":
        candidates = _valid_keys(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.5)
        hint = (
            f"; did you mean '{close[0]}'?" if close else f" (valid keys: {', '.join(candidates)})"
        )
        return f"unknown key '{where}'{hint}"
    return f"invalid value for '{where}': {error['msg']}"


def _valid_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model found at ``loc`` in ``root`` (list indices and union tags
    followed)."""
    node: Any = root
    for part in loc:
        node = _step_into(node, part)
        if node is None:
            return []
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def _step_into(node: Any, part: Any) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return _unwrap(field.annotation) if field else None
    origin = typing.get_origin(node)
    if origin is list and isinstance(part, int):
        return _unwrap(typing.get_args(node)[0])
    if origin in (typing.Union, types.UnionType):  # a tagged union: the tag names the member
        for member in typing.get_args(node):
            tag = getattr(member, "model_fields", {}).get("step")
            if tag is not None and tag.default == part:
                return member
    return None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


# --- astromorph 0.1.2 compatibility -------------------------------------------------------

_ASTROMORPH_MARKERS = {"datafile", "network_name", "network_settings", "byol_settings"}
# Keys that astromorph needed and morphospace does not: they are ignored with one warning.
_ASTROMORPH_OBSOLETE = {
    "representation_size": "found by running the backbone",
    "hidden_layer": "the backbone's pooled output is the representation",
    "trained_network_name": "an inference setting; use 'morphospace embed RUN/'",
    "export_to_csv": "an inference setting; embeddings are written to Parquet",
    "maskfile": "use 'morphospace cutouts MAP --mask MASK' first",
}


def is_astromorph_settings(raw: dict[str, Any]) -> bool:
    """True for a settings dictionary in astromorph 0.1.2's format."""
    return bool(_ASTROMORPH_MARKERS & set(raw))


def from_astromorph(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Map an astromorph 0.1.2 training settings file onto morphospace settings."""
    raw = dict(raw)
    ignored: list[str] = []
    out: dict[str, Any] = {"data": {}, "model": {}, "train": {}}
    if "datafile" in raw:
        datafile = Path(str(raw.pop("datafile"))).expanduser()
        # astromorph read it relative to the working directory; fall back to the file's folder.
        if not datafile.is_absolute() and not datafile.exists():
            datafile = path.parent / datafile
        out["data"]["sources"] = [str(datafile)]
    for key, target in (
        ("epochs", "epochs"),
        ("learning_rate", "learning_rate"),
        ("batch_size", "batch_size"),
        ("core_limit", "threads"),
        ("gamma", "gamma"),
    ):
        if key in raw:
            value = raw.pop(key)
            if key == "core_limit" and not value:
                continue  # astromorph's 0 meant "no limit"
            out["train"][target] = value
    if raw.pop("exponential_lr", False):
        out["train"]["lr_schedule"] = "exponential"
    network = str(raw.pop("network_name", "n_layer_resnet"))
    network_settings = dict(raw.pop("network_settings", {}) or {})
    if network == "n_layer_resnet":
        out["model"]["backbone"] = f"resnet18:{network_settings.pop('last_layer', 'layer4')}"
    elif network == "amm":
        out["model"]["backbone"] = "amm"
    else:
        raise InputError(
            path, f"unknown astromorph network_name {network!r}; use n_layer_resnet or amm"
        )
    ignored += [f"network_settings.{key}" for key in network_settings]
    byol = dict(raw.pop("byol_settings", {}) or {})
    for key, target in (
        ("projection_size", "projection_size"),
        ("projection_hidden_size", "projection_hidden_size"),
        ("use_momentum", "use_momentum"),
        ("moving_average_decay", "base_tau"),
    ):
        if key in byol:
            out["model"][target] = byol.pop(key)
    ignored += [f"byol_settings.{key}" for key in byol]
    data_settings = dict(raw.pop("data_settings", {}) or {})
    stacksize = data_settings.pop("stacksize", None)
    if stacksize and int(stacksize) > 1:
        # astromorph repeated each image 'stacksize' times; channel binning does the same.
        out["preprocess"] = PreprocessChain.default().to_dict()
        out["preprocess"]["steps"][0] = {
            "step": "channels",
            "mode": "bin",
            "n_channels": int(stacksize),
        }
    ignored += [f"data_settings.{key}" for key in data_settings]
    ignored += list(raw)
    if ignored:
        reasons = "; ".join(
            f"{key} ({_ASTROMORPH_OBSOLETE[key.split('.')[-1]]})"
            if key.split(".")[-1] in _ASTROMORPH_OBSOLETE
            else f"{key} (not used)"
            for key in ignored
        )
        warnings.warn(f"{path}: astromorph settings that no longer matter: {reasons}", stacklevel=3)
    return {section: values for section, values in out.items() if values}
