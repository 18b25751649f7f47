"""Augmentations: per-sample parameters, flux kept under rotation, each one switchable."""

from __future__ import annotations

import math

import pytest
import torch

from morphospace.augment import Augmenter, AugmentSettings, gaussian_blur, robust_noise, standardise

OFF = {"rotate": False, "flip": False, "crop_scale": (1.0, 1.0), "crop_ratio": (1.0, 1.0),
       "noise": 0.0, "blur": 0.0, "stretch": 0.0}  # fmt: skip


def _blob(n: int = 96, sigma: float = 6.0, offset: float = 10.0) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    c = (n - 1) / 2
    return torch.exp(-((x - c - offset) ** 2 + (y - c) ** 2) / (2 * sigma**2))


def test_each_sample_gets_its_own_parameters():
    augment = Augmenter(AugmentSettings(view_size=32))
    images = _blob()[None, None].repeat(16, 1, 1, 1)  # sixteen identical objects
    extents = torch.full((16, 2), 96.0)
    views = augment(images, extents, torch.Generator().manual_seed(0))
    flat = views.flatten(1)
    distinct = {tuple(row.round(decimals=4).tolist()) for row in flat}
    assert len(distinct) == 16
    theta = augment.affine(extents, torch.Generator().manual_seed(0))
    assert len({tuple(t.flatten().round(decimals=5).tolist()) for t in theta}) == 16


def test_rotation_keeps_total_flux():
    settings = AugmentSettings(view_size=48, **{**OFF, "rotate": True, "flip": True})
    augment = Augmenter(settings)
    image = _blob()[None, None].repeat(12, 1, 1, 1)
    views = augment.geometry(image, torch.full((12, 2), 96.0), torch.Generator().manual_seed(3))
    expected = image[0].sum() * (48 / 96) ** 2  # same sky, coarser pixels
    assert views.sum(dim=(1, 2, 3)) == pytest.approx(torch.full((12,), float(expected)), rel=0.02)
    # The off-centre blob really moved: rotations differ per sample.
    peaks = {int(v.flatten().argmax()) for v in views}
    assert len(peaks) > 6


def test_inscribed_rotation_never_samples_outside_the_object():
    settings = AugmentSettings(
        rotate=True, rotation_edges="inscribed", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0)
    )
    theta = Augmenter(settings).affine(torch.full((64, 2), 80.0), torch.Generator().manual_seed(1))
    corners = torch.tensor(
        [[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    ).T
    assert (theta @ corners).abs().max() <= 1.0 + 1e-5


def test_everything_off_gives_a_plain_resized_view():
    augment = Augmenter(AugmentSettings(view_size=48, **OFF))
    image = _blob()[None, None]
    one = augment(image, torch.tensor([[96.0, 96.0]]), torch.Generator().manual_seed(0))
    two = augment(image, torch.tensor([[96.0, 96.0]]), torch.Generator().manual_seed(1))
    torch.testing.assert_close(one, two)
    plain = torch.nn.functional.interpolate(
        image, size=(48, 48), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(one, standardise(plain), atol=1e-4, rtol=1e-4)


def test_native_views_keep_pixel_scale():
    settings = AugmentSettings(
        view_size=32, view_mode="native", **{**OFF, "zoom": (1.0, 1.0), "shift": 0.0}
    )
    augment = Augmenter(settings)
    small, large = _blob(96, 3.0, 0.0), _blob(96, 12.0, 0.0)
    # A 48-px object and a 192-px object in the same 96-px bank: the view spans 32 native px.
    views = augment.geometry(
        torch.stack([small, large])[:, None], torch.tensor([[48.0, 48.0], [192.0, 192.0]])
    )
    assert views[0, 0, 0, 0] < 0.05  # the small object fits inside the view, sky around it
    assert views[1, 0, 0, 0] > 0.5  # the view is inside the large object


def test_robust_noise_and_blur():
    torch.manual_seed(0)
    noisy = 0.5 * torch.randn(4, 1, 64, 64) + _blob(64)[None, None] * 10
    assert robust_noise(noisy) == pytest.approx(torch.full((4,), 0.5), rel=0.1)
    sharp = _blob(48, 1.5, 0.0)[None, None].repeat(2, 1, 1, 1)
    blurred = gaussian_blur(sharp, torch.tensor([0.0, 2.0]), 2.0)
    torch.testing.assert_close(blurred[0], sharp[0], atol=1e-5, rtol=0)
    assert blurred[1].max() < 0.6 * sharp[1].max()
    assert blurred[1].sum() == pytest.approx(float(sharp[1].sum()), rel=1e-3)


def test_noise_is_relative_to_each_image():
    settings = AugmentSettings(view_size=64, **{**OFF, "noise": 2.0, "noise_p": 1.0})
    augment = Augmenter(settings)
    torch.manual_seed(0)

    def snr(image: torch.Tensor) -> float:  # unchanged by standardising
        peak = image[..., 29:34, 29:34].mean()  # central 5x5: a peak that noise barely moves
        return float((peak - image.median()) / robust_noise(image))

    drops = []
    for sigma in (0.01, 0.1):  # the same source, observed with ten times more noise
        # A compact source on mostly empty sky, so the estimator sees noise, not structure.
        image = _blob(64, 2.5, 0.0)[None, None] + sigma * torch.randn(1, 1, 64, 64)
        view = augment.photometry(image.clone(), torch.Generator().manual_seed(5))
        drops.append(snr(image) / snr(view))
    assert drops[0] > 1.3  # noise was added …
    assert drops[0] == pytest.approx(drops[1], rel=0.15)  # … in proportion to each image's own


def test_cube_channel_dropout_and_spectral_shift():
    settings = AugmentSettings(view_size=16, **{**OFF, "channel_dropout": 0.9, "spectral_shift": 2})
    augment = Augmenter(settings)
    cube = torch.arange(6.0)[None, :, None, None].expand(32, 6, 16, 16).clone()
    cube = cube + torch.randn(32, 6, 16, 16) * 0.01
    views = augment.photometry(cube, torch.Generator().manual_seed(0))
    alive = views.std(dim=(2, 3)) > 1e-6  # a dropped channel is flat after standardising
    assert alive.any(dim=1).all()  # never every channel dropped
    assert (~alive).any()  # but channels are dropped
    shifted = AugmentSettings(view_size=16, **{**OFF, "spectral_shift": 2})
    moved = Augmenter(shifted).photometry(cube.clone(), torch.Generator().manual_seed(0))
    profile, original = moved.mean(dim=(2, 3)), standardise(cube).mean(dim=(2, 3))
    changed = (profile - original).abs().amax(dim=1) > 0.1
    assert changed.any() and not changed.all()  # shifted for some objects, by 0 for others


def test_settings_validation():
    with pytest.raises(ValueError):
        AugmentSettings(crop_scale=(0.9, 0.5))
    with pytest.raises(ValueError):
        AugmentSettings(unknown=1)
    assert math.isclose(AugmentSettings().noise, 1.0)


def test_local_views_are_small_crops_drawn_besides_the_global_ones():
    images = torch.rand(5, 1, 48, 48)
    extents = torch.full((5, 2), 40.0)
    assert Augmenter(AugmentSettings()).local_views(images, extents) == []
    settings = AugmentSettings(view_size=32, local_views=3, local_size=16)
    local = Augmenter(settings).local_views(images, extents, torch.Generator().manual_seed(0))
    assert [tuple(v.shape) for v in local] == [(5, 1, 16, 16)] * 3
    assert not torch.equal(local[0], local[1])
    again = Augmenter(settings).local_views(images, extents, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, local)  # the same generator, the same views
    with pytest.raises(ValueError, match="local_scale"):
        AugmentSettings(local_scale=(0.1, 1.5))
