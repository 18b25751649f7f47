"""The preprocessing chain: named, validated steps applied in order to every object.

A chain is plain data (a list of step settings), so it is saved with a trained model and
training and inference apply exactly the same steps. In TOML::

    [[preprocess.steps]]
    step = "channels"
    mode = "moments"
    orders = [0, 1]
    velocity_range = [-5.0, 5.0]

    [[preprocess.steps]]
    step = "resample"
    scale = "0.25 beam"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from astropy import units as u
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from morphospace.errors import InputError
from morphospace.io.fits import Beam, SkyImage
from morphospace.preprocess import spectral
from morphospace.preprocess import steps as ops

__all__ = [
    "CapSize",
    "ChannelKind",
    "Channels",
    "Clip",
    "Crop",
    "Fill",
    "Frame",
    "NoiseStretch",
    "Normalise",
    "PreprocessChain",
    "Resample",
    "Step",
    "Stretch",
    "framing_of",
]

ChannelKind = Literal["image", "spectral", "moments"]


@dataclass(frozen=True)
class Frame:
    """An object on its way through the chain: data is always (C, H, W) float32."""

    data: np.ndarray
    source: str
    pixel_scale: float | None = None
    beam: Beam | None = None
    velocities: np.ndarray | None = None
    kind: ChannelKind = "image"

    def replace(self, **changes: Any) -> Frame:
        """A copy with ``changes``: ``dataclasses.replace`` without its per-call field checks."""
        return Frame(**{**self.__dict__, **changes})

    @classmethod
    def from_image(cls, image: SkyImage) -> Frame:
        meta = image.meta
        velocities = None
        if image.is_cube and meta.spectral is not None:
            try:
                velocities = meta.spectral.velocities()
            except ValueError:
                velocities = None  # fine for binning and moment 0; moments 1-2 will say why
        return cls(
            data=image.data if image.is_cube else image.data[None],
            source=meta.path,
            pixel_scale=meta.pixel_scale,
            beam=meta.beam,
            velocities=velocities,
            kind="spectral" if image.is_cube else "image",
        )


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __call__(self, frame: Frame) -> Frame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _per_channel(self, frame: Frame, setting: bool | None) -> bool:
        # Moment maps carry different quantities (flux, velocity, width) in each channel.
        return frame.kind == "moments" if setting is None else setting


class Channels(_Step):
    """Cube to a fixed number of channels: spectral bins, or moment maps of the given orders.

    2-D images pass through with the same channel count, so images and cubes can be mixed:
    in ``bin`` mode the image is repeated in every channel; in ``moments`` mode it stands
    for moment 0 and moments 1 and 2 are zero (no velocity information).
    """

    step: Literal["channels"] = "channels"
    mode: Literal["moments", "bin"] = "moments"
    orders: list[Literal[0, 1, 2]] = Field(default_factory=lambda: [0], min_length=1)
    n_channels: int = Field(default=4, ge=1)
    velocity_range: tuple[float, float] | None = None

    @property
    def output_channels(self) -> int:
        return len(self.orders) if self.mode == "moments" else self.n_channels

    def __call__(self, frame: Frame) -> Frame:
        if frame.kind != "spectral":
            return self._from_image(frame)
        if self.mode == "bin":
            return frame.replace(data=spectral.bin_channels(frame.data, self.n_channels))
        velocities = frame.velocities
        if velocities is None:
            if self.velocity_range is not None or any(order > 0 for order in self.orders):
                raise InputError(
                    frame.source,
                    "channel velocities unknown (no spectral WCS, or a frequency axis without "
                    "RESTFRQ); needed for moment 1/2 maps or a velocity range",
                )
            velocities = np.arange(frame.data.shape[0], dtype=float)
        try:
            maps = spectral.moment_maps(frame.data, velocities, self.orders, self.velocity_range)
        except ValueError as exc:
            raise InputError(frame.source, str(exc)) from None
        return frame.replace(data=maps, kind="moments", velocities=None)

    def _from_image(self, frame: Frame) -> Frame:
        plane = frame.data[:1]
        if self.mode == "bin":
            return frame.replace(data=np.repeat(plane, self.n_channels, axis=0))
        if self.orders == [0]:
            return frame.replace(data=plane)
        zero = np.where(np.isfinite(plane), 0.0, np.nan).astype(np.float32)
        maps = np.concatenate([plane if order == 0 else zero for order in self.orders])
        kind: ChannelKind = "moments" if len(self.orders) > 1 else "image"
        return frame.replace(data=maps, kind=kind)


class Resample(_Step):
    """Resample to a common pixel scale: ``"0.05 arcsec"`` (any angle) or ``"0.25 beam"``.

    In beams, the pixel becomes that fraction of the beam FWHM (geometric mean of the
    axes), so ``"0.25 beam"`` gives four pixels per beam.
    """

    step: Literal["resample"] = "resample"
    scale: str

    @field_validator("scale")
    @classmethod
    def _parse_scale(cls, value: str) -> str:
        quantity, unit = _split_scale(value)
        if unit != "beam" and not u.Unit(unit).is_equivalent(u.arcsec):
            raise ValueError(f"scale unit must be an angle or 'beam', got {unit!r}")
        if quantity <= 0:
            raise ValueError(f"scale must be positive, got {value!r}")
        return value

    def target_arcsec(self, frame: Frame) -> float:
        value, unit = _split_scale(self.scale)
        if unit != "beam":
            return float((value * u.Unit(unit)).to_value(u.arcsec))
        if frame.beam is None:
            raise InputError(
                frame.source, f"no beam (BMAJ/BMIN or BEAMS table) to resample to {self.scale}"
            )
        return value * frame.beam.fwhm

    def __call__(self, frame: Frame) -> Frame:
        target = self.target_arcsec(frame)
        if frame.pixel_scale is None:
            raise InputError(frame.source, f"no pixel scale in the WCS to resample to {self.scale}")
        factor = frame.pixel_scale / target
        data = ops.resample(frame.data, factor)
        if min(data.shape[-2:]) < 2:
            raise InputError(
                frame.source,
                f"resampling to {self.scale} leaves only {data.shape[-1]}x{data.shape[-2]} px",
            )
        return frame.replace(data=data, pixel_scale=target)


class CapSize(_Step):
    """Shrink objects whose longer side exceeds ``max_side`` pixels."""

    step: Literal["cap_size"] = "cap_size"
    max_side: int = Field(default=256, ge=16)

    def __call__(self, frame: Frame) -> Frame:
        longest = max(frame.data.shape[-2:])
        if longest <= self.max_side:
            return frame
        scale = frame.pixel_scale * longest / self.max_side if frame.pixel_scale else None
        return frame.replace(data=ops.cap_size(frame.data, self.max_side), pixel_scale=scale)


class Fill(_Step):
    """Replace blank pixels with the median, zero or minimum of each channel."""

    step: Literal["fill"] = "fill"
    method: ops.FillMethod = "median"

    def __call__(self, frame: Frame) -> Frame:
        return frame.replace(data=ops.fill_masked(frame.data, method=self.method))


class Clip(_Step):
    """Clip to percentiles of the finite pixels."""

    step: Literal["clip"] = "clip"
    lower: float = Field(default=1.0, ge=0, le=100)
    upper: float = Field(default=99.9, ge=0, le=100)
    per_channel: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Clip:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self

    def __call__(self, frame: Frame) -> Frame:
        per_channel = self._per_channel(frame, self.per_channel)
        return frame.replace(
            data=ops.clip_percentile(frame.data, self.lower, self.upper, per_channel)
        )


class Stretch(_Step):
    """Intensity stretch (linear, log, sqrt, asinh) to [0, 1]."""

    step: Literal["stretch"] = "stretch"
    kind: ops.StretchKind = "asinh"
    softening: float = Field(default=0.1, gt=0)
    per_channel: bool | None = None

    def __call__(self, frame: Frame) -> Frame:
        per_channel = self._per_channel(frame, self.per_channel)
        return frame.replace(data=ops.stretch(frame.data, self.kind, self.softening, per_channel))


class Crop(_Step):
    """Crop to the significant emission, so each object fills its frame whatever its cutout."""

    step: Literal["crop"] = "crop"
    threshold: float = Field(default=3.0, gt=0)  # noise sigmas, on the lightly smoothed image
    margin: float = Field(default=0.25, ge=0)  # fraction of the emission's size on each side
    min_side: int = Field(default=16, ge=4)

    def __call__(self, frame: Frame) -> Frame:
        data = ops.crop_to_emission(frame.data, self.threshold, self.margin, self.min_side)
        return frame.replace(data=data)


class NoiseStretch(_Step):
    """asinh stretch in units of each object's own noise, background subtracted."""

    step: Literal["noise_stretch"] = "noise_stretch"
    knee: float = Field(default=3.0, gt=0)  # noise sigmas where asinh turns logarithmic
    per_channel: bool | None = None

    def __call__(self, frame: Frame) -> Frame:
        per_channel = self._per_channel(frame, self.per_channel)
        return frame.replace(data=ops.noise_stretch(frame.data, self.knee, per_channel))


class Normalise(_Step):
    """Normalise intensities (zscore or minmax); safe for constant images."""

    step: Literal["normalise"] = "normalise"
    method: ops.NormaliseMethod = "zscore"
    per_channel: bool | None = None

    def __call__(self, frame: Frame) -> Frame:
        per_channel = self._per_channel(frame, self.per_channel)
        return frame.replace(data=ops.normalise(frame.data, self.method, per_channel))


Step = Annotated[
    Channels | Resample | CapSize | Fill | Crop | Clip | Stretch | NoiseStretch | Normalise,
    Field(discriminator="step"),
]


def _split_scale(value: str) -> tuple[float, str]:
    text = value.strip().replace(" ", "")
    number_end = len(text) - len(text.lstrip("0123456789.eE+-"))
    # "1e-3arcsec": the exponent 'e' must not swallow the unit's first letter.
    while number_end > 0:
        try:
            number = float(text[:number_end])
            break
        except ValueError:
            number_end -= 1
    else:
        raise ValueError(f"cannot read {value!r}; write a number and a unit, e.g. '0.1 arcsec'")
    unit = text[number_end:] or "arcsec"
    if unit in ("beam", "beams"):
        return number, "beam"
    try:
        u.Unit(unit)
    except ValueError:
        raise ValueError(f"unknown unit {unit!r} in {value!r}") from None
    return number, unit


class PreprocessChain(BaseModel):
    """An ordered list of preprocessing steps, applied to each :class:`SkyImage`.

    A ``channels`` step is put first if the chain has none, so cubes always become a fixed
    number of channels. Whatever the steps, the output is finite: blank pixels still
    present at the end are set to zero.

    Examples
    --------
    >>> chain = PreprocessChain.default()
    >>> [s.step for s in chain.steps]
    ['channels', 'cap_size', 'fill', 'crop', 'noise_stretch', 'normalise']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step] = Field(default_factory=list)

    @field_validator("steps")
    @classmethod
    def _one_channels_step(cls, value: list[Any]) -> list[Any]:
        names = [s.step for s in value]
        if names.count("channels") > 1:
            raise ValueError("the chain may hold only one 'channels' step")
        return value if "channels" in names else [Channels(), *value]

    @classmethod
    def default(cls) -> PreprocessChain:
        """Moment 0 for cubes, side capped at 256 px, median fill, crop to the emission, asinh
        stretch in units of the noise, z-score."""
        return cls(steps=[Channels(), CapSize(), Fill(), Crop(), NoiseStretch(), Normalise()])

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> PreprocessChain:
        """Build a chain from saved settings, as written by :meth:`to_dict`."""
        return cls.model_validate(settings)

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-ready settings that rebuild exactly this chain."""
        return self.model_dump(mode="json")

    @property
    def output_channels(self) -> int:
        """Number of channels every object has after the chain."""
        return next(s for s in self.steps if isinstance(s, Channels)).output_channels

    def describe(self) -> str:
        """One line such as ``channels(mode=moments) → fill(method=median) → …``."""
        parts = []
        for s in self.steps:
            settings = ", ".join(f"{k}={v}" for k, v in s.model_dump(exclude={"step"}).items())
            parts.append(f"{s.step}({settings})")
        return " → ".join(parts)

    def apply(self, image: SkyImage) -> np.ndarray:
        """Run the chain on one object; returns finite float32 data of shape (C, H, W)."""
        frame = Frame.from_image(image)
        for s in self.steps:
            frame = s(frame)
        data = frame.data.astype(np.float32)  # a copy: the image is never written to
        return np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    def __call__(self, image: SkyImage) -> tuple[np.ndarray, Any]:
        """Apply the chain and keep the metadata, as :func:`~morphospace.io.read_many` wants."""
        return self.apply(image), image.meta


def framing_of(recorded: dict[str, Any] | None) -> Crop | None:
    """The ``crop`` step of a recorded chain (a model card's or an embedding table's
    ``preprocess``): how the network's input was framed. None when it had none."""
    if not recorded:
        return None
    return next((s for s in PreprocessChain.from_dict(recorded).steps if isinstance(s, Crop)), None)
