"""Batched astronomy augmentations, on the training device, with parameters drawn per sample.

A training batch holds objects of different native sizes, each resampled to the same
square "bank" tensor (see :mod:`morphospace.dataset`) together with its native extent. A
view is drawn from each object with one affine map that combines, per sample:

- the crop: ``fit`` views span the whole object (a random resized crop of it, scale-free),
  ``native`` views span ``view_size`` native pixels with a random zoom (use after
  resolution normalisation, so a view covers the same angle on the sky for every object);
- rotation by any angle, with edges filled by reflection or avoided by an inscribed crop;
- horizontal and vertical flips;

so the geometry costs a single ``grid_sample``. Then, per sample: Gaussian noise scaled to
the image's own robust noise level, a beam-like Gaussian blur of random width, a random
intensity stretch, and for multi-channel data channel dropout and a spectral shift. Each
view is finally standardised. There is no colour jitter or grayscale: these are not RGB
photographs.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AugmentSettings", "Augmenter", "gaussian_blur", "robust_noise", "standardise"]


class AugmentSettings(BaseModel):
    """How training views are drawn. Set a strength to 0 (or a flag to false) to switch it off."""

    model_config = ConfigDict(extra="forbid")

    view_size: int = Field(default=32, ge=16, description="side of every training view, px")
    view_mode: Literal["fit", "native"] = "fit"
    crop_scale: tuple[float, float] = (0.25, 1.0)  # fit: fraction of the object's area
    # Square crops by default: stretching a view changes an object's axis ratio, which is
    # how an image shows a disk's inclination.
    crop_ratio: tuple[float, float] = (1.0, 1.0)  # aspect ratio of the crop
    zoom: tuple[float, float] = (0.8, 1.25)  # native: field of view jitter
    shift: float = Field(default=0.1, ge=0, le=1)  # native: centre jitter, fraction of view
    rotate: bool = True
    rotation_edges: Literal["reflect", "inscribed"] = "reflect"
    flip: bool = True
    noise: float = Field(default=1.0, ge=0)  # max added noise, in units of the image's noise
    noise_p: float = Field(default=0.5, ge=0, le=1)
    blur: float = Field(default=1.0, ge=0)  # max blur sigma, view pixels
    blur_p: float = Field(default=0.5, ge=0, le=1)
    stretch: float = Field(default=0.3, ge=0)  # gamma drawn from exp(U(-s, s))
    channel_dropout: float = Field(default=0.0, ge=0, lt=1)  # per-channel probability
    spectral_shift: int = Field(default=0, ge=0)  # max shift, channels
    # Multi-crop (Caron et al. 2020): this many small local views per object besides the
    # two global ones, each of local_size px over local_scale of the object's area; the
    # online network predicts the global views' targets from them. 0: two views only.
    local_views: int = Field(default=0, ge=0)
    local_size: int = Field(default=16, ge=16)
    local_scale: tuple[float, float] = (0.05, 0.25)

    @model_validator(mode="after")
    def _ranges(self) -> AugmentSettings:
        for name in ("crop_scale", "crop_ratio", "zoom", "local_scale"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {(low, high)}")
        if self.crop_scale[1] > 1 or self.local_scale[1] > 1:
            raise ValueError("crop_scale and local_scale may not exceed 1 (the whole object)")
        return self


def _uniform(low: float, high: float, n: int, generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _bernoulli(p: float, shape: tuple[int, ...], generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device) < p


class Augmenter:
    """Draw augmented views from a batch of bank images.

    Parameters
    ----------
    settings : AugmentSettings
    """

    def __init__(self, settings: AugmentSettings | None = None):
        self.settings = settings or AugmentSettings()

    def __call__(
        self,
        images: torch.Tensor,
        extents: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One view per image.

        Parameters
        ----------
        images : Tensor, shape (B, C, S, S)
            Objects resampled to the bank size.
        extents : Tensor, shape (B, 2)
            Native (height, width) of each object in pixels.
        generator : torch.Generator, optional
            Source of randomness on the images' device, for repeatable runs.

        Returns
        -------
        Tensor, shape (B, C, view_size, view_size), each view standardised.
        """
        views = self.geometry(images, extents.to(images.device, images.dtype), generator)
        return self.photometry(views, generator)

    def local_views(
        self, images: torch.Tensor, extents: torch.Tensor, generator: torch.Generator | None = None
    ) -> list[torch.Tensor]:
        """``local_views`` small views per image (multi-crop), each (B, C, local_size,
        local_size): crops over ``local_scale`` of the object, augmented like the others."""
        s = self.settings
        if not s.local_views:
            return []
        local = Augmenter(
            s.model_copy(
                update={"view_size": s.local_size, "crop_scale": s.local_scale, "local_views": 0}
            )
        )
        return [local(images, extents, generator) for _ in range(s.local_views)]

    def affine(self, extents: torch.Tensor, generator=None) -> torch.Tensor:
        """Per-sample (B, 2, 3) matrices mapping view coordinates to bank coordinates."""
        s = self.settings
        n, device, dtype = extents.shape[0], extents.device, extents.dtype
        height, width = extents[:, 0], extents[:, 1]
        side = torch.maximum(height, width)
        if s.view_mode == "fit":
            area = _uniform(*s.crop_scale, n, generator, device)
            log_ratio = _uniform(
                math.log(s.crop_ratio[0]), math.log(s.crop_ratio[1]), n, generator, device
            )
            ratio = torch.exp(log_ratio)
            crop_x, crop_y = side * torch.sqrt(area * ratio), side * torch.sqrt(area / ratio)
            # Keep the crop on the object: the centre moves only by the slack it leaves.
            slack_x = (side - crop_x).clamp(min=0) / 2
            slack_y = (side - crop_y).clamp(min=0) / 2
            centre_x = slack_x * _uniform(-1, 1, n, generator, device)
            centre_y = slack_y * _uniform(-1, 1, n, generator, device)
        else:
            field = s.view_size * _uniform(*s.zoom, n, generator, device)
            crop_x = crop_y = field
            centre_x = s.shift * s.view_size * _uniform(-1, 1, n, generator, device)
            centre_y = s.shift * s.view_size * _uniform(-1, 1, n, generator, device)
        angle = (
            _uniform(0, 2 * math.pi, n, generator, device)
            if s.rotate
            else torch.zeros(n, device=device)
        )
        cos, sin = torch.cos(angle), torch.sin(angle)
        if s.rotate and s.rotation_edges == "inscribed":
            shrink = 1 / (cos.abs() + sin.abs())  # the rotated square fits inside the unrotated one
            crop_x, crop_y = crop_x * shrink, crop_y * shrink
        flip_x = torch.ones(n, device=device, dtype=dtype)
        flip_y = torch.ones(n, device=device, dtype=dtype)
        if s.flip:
            flip_x = torch.where(_bernoulli(0.5, (n,), generator, device), -flip_x, flip_x)
            flip_y = torch.where(_bernoulli(0.5, (n,), generator, device), -flip_y, flip_y)
        # view (u, v) in [-1, 1] -> native offset R @ diag(flip * crop / 2) @ (u, v) + centre,
        # -> bank coordinates by dividing by the half-extent of the object.
        a = crop_x * flip_x / 2
        b = crop_y * flip_y / 2
        theta = torch.stack(
            [
                torch.stack(
                    [cos * a / (width / 2), -sin * b / (width / 2), centre_x / (width / 2)], 1
                ),
                torch.stack(
                    [sin * a / (height / 2), cos * b / (height / 2), centre_y / (height / 2)], 1
                ),
            ],
            1,
        )
        return theta.to(dtype)

    def geometry(self, images: torch.Tensor, extents: torch.Tensor, generator=None) -> torch.Tensor:
        """Crop, zoom, rotate and flip every image in one ``grid_sample``."""
        return self._sample(images, self.affine(extents, generator), self.settings.view_size)

    def frame(self, images: torch.Tensor, extents: torch.Tensor, size: int) -> torch.Tensor:
        """The whole of each object, unrotated, in a ``size`` px square (the inference input).

        The square spans the object's longer side, centred, with the short side padded as in
        training (reflection in ``fit`` mode, the image's median sky in ``native`` mode).
        """
        extents = extents.to(images.device, images.dtype)
        height, width = extents[:, 0], extents[:, 1]
        side = torch.maximum(height, width)
        zero = torch.zeros_like(side)
        theta = torch.stack(
            [
                torch.stack([side / width, zero, zero], 1),
                torch.stack([zero, side / height, zero], 1),
            ],
            1,
        )
        return self._sample(images, theta, size)

    def _sample(self, images: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
        grid = F.affine_grid(
            theta, (images.shape[0], images.shape[1], size, size), align_corners=False
        )
        if self.settings.view_mode == "native":
            # Outside the object is sky: pad with each image's median, not with mirrored emission.
            background = images.flatten(1).median(dim=1).values.view(-1, 1, 1, 1)
            views = F.grid_sample(
                images - background, grid, padding_mode="zeros", align_corners=False
            )
            return views + background
        return F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)

    def photometry(self, views: torch.Tensor, generator=None) -> torch.Tensor:
        """Noise, blur, stretch and channel augmentations; then standardise each view."""
        s = self.settings
        n, channels = views.shape[:2]
        device = views.device
        if s.stretch > 0:
            views = self._stretch(
                views, _uniform(-s.stretch, s.stretch, n, generator, device).exp()
            )
        if s.blur > 0 and s.blur_p > 0:
            sigma = _uniform(0.0, s.blur, n, generator, device)
            sigma = torch.where(_bernoulli(s.blur_p, (n,), generator, device), sigma, 0.0)
            views = gaussian_blur(views, sigma, s.blur)
        if s.noise > 0 and s.noise_p > 0:
            level = robust_noise(views) * _uniform(0.0, s.noise, n, generator, device)
            level = torch.where(_bernoulli(s.noise_p, (n,), generator, device), level, 0.0)
            noise = torch.randn(views.shape, generator=generator, device=device, dtype=views.dtype)
            views = views + noise * level.view(-1, 1, 1, 1)
        if channels > 1 and s.spectral_shift > 0:
            shift = torch.randint(
                -s.spectral_shift, s.spectral_shift + 1, (n,), generator=generator, device=device
            )
            index = (torch.arange(channels, device=device) + shift[:, None]).clamp(0, channels - 1)
            views = views.gather(1, index[:, :, None, None].expand_as(views))
        if channels > 1 and s.channel_dropout > 0:
            keep = ~_bernoulli(s.channel_dropout, (n, channels), generator, device)
            keep[keep.sum(1) == 0, 0] = True  # never drop every channel
            views = views * keep[:, :, None, None]
        return standardise(views)

    @staticmethod
    def _stretch(views: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        low = views.amin(dim=(1, 2, 3), keepdim=True)
        span = views.amax(dim=(1, 2, 3), keepdim=True) - low
        unit = (views - low) / span.clamp(min=1e-12)
        return low + span * unit.clamp(min=0) ** gamma.view(-1, 1, 1, 1)


def standardise(images: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per image; a constant image becomes zeros."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    std = images.std(dim=(1, 2, 3), keepdim=True)
    return torch.where(std > 1e-6, (images - mean) / std.clamp(min=1e-6), torch.zeros_like(images))


def robust_noise(images: torch.Tensor) -> torch.Tensor:
    """Per-image noise sigma: MAD of neighbouring-pixel differences, insensitive to structure."""
    diff = (images[..., :, 1:] - images[..., :, :-1]).flatten(1)
    mad = (diff - diff.median(dim=1, keepdim=True).values).abs().median(dim=1).values
    return 1.4826 * mad / math.sqrt(2.0)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Blur each image with its own Gaussian width (sigma = 0 leaves it unchanged)."""
    n, channels, height, width = images.shape
    radius = max(1, math.ceil(3 * max_sigma))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    safe_sigma = sigma.clamp(min=1e-3).view(-1, 1)
    kernel = torch.exp(-0.5 * (offsets / safe_sigma) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # sigma ~ 0 gives a delta
    kernel = kernel.repeat_interleave(channels, dim=0)  # one kernel per (image, channel)
    planes = images.reshape(1, n * channels, height, width)
    planes = F.pad(planes, (radius, radius, 0, 0), mode="reflect")
    planes = F.conv2d(planes, kernel.view(-1, 1, 1, 2 * radius + 1), groups=n * channels)
    planes = F.pad(planes, (0, 0, radius, radius), mode="reflect")
    planes = F.conv2d(planes, kernel.view(-1, 1, 2 * radius + 1, 1), groups=n * channels)
    return planes.view(n, channels, height, width)
