"""Preprocessing: each pure function, and the recorded chain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import celestial_header, gaussian_blob, spectral_cards
from morphospace.errors import InputError
from morphospace.io import read_fits
from morphospace.preprocess import (
    Channels,
    Fill,
    Normalise,
    PreprocessChain,
    Resample,
    background_and_noise,
    bin_channels,
    cap_size,
    clip_percentile,
    crop_to_emission,
    emission_box,
    fill_masked,
    moment_maps,
    noise_stretch,
    normalise,
    resample,
    stretch,
)
from morphospace.preprocess._fast import median


def test_fill_masked_methods():
    data = np.arange(16, dtype=np.float32).reshape(4, 4)
    data[0, 0] = np.nan
    assert fill_masked(data, method="zero")[0, 0] == 0
    assert fill_masked(data, method="min")[0, 0] == 1
    assert fill_masked(data, method="median")[0, 0] == np.median(np.arange(1, 16))
    mask = np.zeros((4, 4), bool)
    mask[3, 3] = True
    assert fill_masked(data, mask, "zero")[3, 3] == 0
    assert np.isnan(data[0, 0])  # input untouched


def test_clip_percentile_bounds():
    data = np.arange(1000, dtype=np.float32)
    clipped = clip_percentile(data.reshape(10, 100), 1, 99)
    assert clipped.min() == pytest.approx(np.percentile(data, 1))
    assert clipped.max() == pytest.approx(np.percentile(data, 99))


@pytest.mark.parametrize("kind", ["linear", "log", "sqrt", "asinh"])
def test_stretches_map_to_unit_range_monotonically(kind):
    data = np.linspace(-3, 50, 400, dtype=np.float32).reshape(20, 20)
    out = stretch(data, kind)
    assert out.min() == pytest.approx(0) and out.max() == pytest.approx(1)
    assert np.all(np.diff(out.ravel()) >= 0)
    if kind != "linear":  # compressive stretches lift the faint end
        assert out.ravel()[100] > (data.ravel()[100] + 3) / 53


@pytest.mark.parametrize("value", [0.0, 7.5])
def test_constant_images_stay_finite(value):
    data = np.full((32, 32), value, np.float32)
    for out in (
        stretch(data),
        normalise(data, "zscore"),
        normalise(data, "minmax"),
        clip_percentile(data),
    ):
        assert np.isfinite(out).all()
    assert np.all(normalise(data) == 0)
    chain_out = PreprocessChain.default().apply(_image_from(data))
    assert np.isfinite(chain_out).all() and chain_out.shape == (1, 32, 32)


def test_normalise_zscore_and_per_channel():
    rng = np.random.default_rng(0)
    data = np.stack([rng.normal(5, 2, (16, 16)), rng.normal(-1, 10, (16, 16))]).astype(np.float32)
    out = normalise(data, "zscore", per_channel=True)
    assert out.mean(axis=(1, 2)) == pytest.approx([0, 0], abs=1e-5)
    assert out.std(axis=(1, 2)) == pytest.approx([1, 1], rel=1e-4)


def test_resample_keeps_surface_brightness_and_blanks():
    data = gaussian_blob(64, sigma=8)
    half = resample(data, 0.5)
    assert half.shape == (32, 32)
    assert half.max() == pytest.approx(data.max(), rel=0.1)  # brightness per pixel, not summed
    assert half.sum() * 4 == pytest.approx(data.sum(), rel=0.02)
    data[:, :16] = np.nan
    out = resample(data, 0.5)
    assert np.isnan(out[:, :6]).all() and np.isfinite(out[:, 10:]).all()


def test_cap_size_keeps_aspect():
    out = cap_size(np.ones((100, 400), np.float32), 200)
    assert out.shape == (50, 200)
    assert cap_size(np.ones((10, 20), np.float32), 200).shape == (10, 20)


def test_bin_channels_averages_contiguous_bins():
    cube = np.arange(12, dtype=np.float32)[:, None, None] * np.ones((12, 2, 2), np.float32)
    binned = bin_channels(cube, 4)
    assert binned[:, 0, 0] == pytest.approx([1, 4, 7, 10])
    assert bin_channels(cube[:2], 4).shape == (4, 2, 2)


def test_moment_maps_of_known_line():
    v = np.linspace(-5, 5, 101)
    centre = np.array([[-1.0, 0.0], [1.0, 2.0]])
    width = 0.8
    cube = np.exp(-0.5 * ((v[:, None, None] - centre) / width) ** 2).astype(np.float32)
    m0, m1, m2 = moment_maps(cube, v, (0, 1, 2))
    assert m0 == pytest.approx(np.full((2, 2), width * np.sqrt(2 * np.pi)), rel=1e-3)
    assert m1 == pytest.approx(centre, abs=1e-3)
    assert m2 == pytest.approx(np.full((2, 2), width), rel=1e-2)
    (m0_part,) = moment_maps(cube, v, (0,), velocity_range=(0.0, 5.0))
    assert m0_part[1, 1] > m0_part[0, 0]
    with pytest.raises(ValueError, match="no channel in velocity range"):
        moment_maps(cube, v, (0,), velocity_range=(10.0, 20.0))


def _image_from(data):
    from morphospace.io.fits import ImageMeta, SkyImage

    meta = ImageMeta(path="memory", hdu=0, hdu_name="PRIMARY", shape=data.shape)
    return SkyImage(data=data, mask=~np.isfinite(data), meta=meta)


def test_resample_step_in_arcsec_and_beams(write_fits):
    data = gaussian_blob(64, sigma=6)
    header = celestial_header(data.shape)  # 0.1 arcsec pixels
    header.update(BMAJ=0.8 / 3600, BMIN=0.8 / 3600, BPA=0)
    image = read_fits(write_fits("beam.fits", data, header))
    by_angle = PreprocessChain(steps=[Resample(scale="0.2 arcsec")]).apply(image)
    by_beam = PreprocessChain(steps=[Resample(scale="0.25 beam")]).apply(image)  # 0.2 arcsec
    assert by_angle.shape == by_beam.shape == (1, 32, 32)
    np.testing.assert_allclose(by_angle, by_beam)
    no_wcs = _image_from(data)
    with pytest.raises(InputError, match="no pixel scale"):
        PreprocessChain(steps=[Resample(scale="0.2arcsec")]).apply(no_wcs)
    with pytest.raises(ValueError):
        Resample(scale="3 parsec")


def test_chain_round_trip_gives_identical_output(synth_set):
    chain = PreprocessChain(
        steps=[
            Channels(mode="moments", orders=[0, 1], velocity_range=(-50, 50)),
            Resample(scale="0.3 beam"),
            Fill(method="zero"),
            Normalise(method="minmax"),
        ]
    )
    saved = json.dumps(chain.to_dict())
    restored = PreprocessChain.from_dict(json.loads(saved))
    assert restored == chain
    cube_path = next((synth_set / "images").glob("synth_00010.fits"))  # a cube class
    image = read_fits(cube_path)
    assert image.is_cube
    np.testing.assert_array_equal(chain.apply(image), restored.apply(image))


def test_chain_mixes_images_and_cubes_with_fixed_channels(synth_set):
    images = [read_fits(p) for p in sorted((synth_set / "images").glob("*.fits"))]
    assert any(i.is_cube for i in images) and any(not i.is_cube for i in images)
    for chain in (
        PreprocessChain.default(),
        PreprocessChain(steps=[Channels(mode="bin", n_channels=3)]),
        PreprocessChain(steps=[Channels(mode="moments", orders=[0, 1, 2])]),
    ):
        outputs = [chain.apply(i) for i in images]
        assert {o.shape[0] for o in outputs} == {chain.output_channels}
        assert all(np.isfinite(o).all() and o.dtype == np.float32 for o in outputs)


def test_moment_one_needs_velocities(write_fits):
    cube = np.stack([gaussian_blob()] * 4)
    path = write_fits("novel.fits", cube)  # no spectral WCS
    image = read_fits(path)
    assert PreprocessChain(steps=[Channels()]).apply(image).shape == (1, 48, 48)
    with pytest.raises(InputError, match="velocities unknown"):
        PreprocessChain(steps=[Channels(orders=[0, 1])]).apply(image)


def test_velocity_range_selects_channels(write_fits):
    cube = np.zeros((9, 32, 32), np.float32)
    cube[:4] = 1.0  # emission only in the four bluest channels, -2.0 to -0.5 km/s
    header = spectral_cards(celestial_header(cube.shape), 9, "VRAD")  # -2..2 km/s
    image = read_fits(write_fits("vr.fits", cube, header))

    def moment0(vrange):
        steps = [Channels(orders=[0], velocity_range=vrange), Normalise(method="none")]
        return PreprocessChain(steps=steps).apply(image)

    assert moment0((-2.0, -0.6)) == pytest.approx(np.full((1, 32, 32), 3 * 0.5))
    assert np.all(moment0((0.6, 2.0)) == 0)


def test_unknown_step_and_bad_settings_are_rejected():
    with pytest.raises(ValueError):
        PreprocessChain.from_dict({"steps": [{"step": "sharpen"}]})
    with pytest.raises(ValueError):
        PreprocessChain.from_dict({"steps": [{"step": "clip", "lower": 99, "upper": 1}]})
    with pytest.raises(ValueError):
        PreprocessChain.from_dict({"steps": [{"step": "fill", "methd": "zero"}]})


def test_default_chain_records_every_step():
    names = [s["step"] for s in PreprocessChain.default().to_dict()["steps"]]
    assert names == ["channels", "cap_size", "fill", "crop", "noise_stretch", "normalise"]
    assert "channels(" in PreprocessChain.default().describe()


def test_big_endian_input_to_functions():
    data = gaussian_blob().astype(">f4")
    for out in (fill_masked(data), stretch(data), normalise(data), resample(data, 0.5)):
        assert out.dtype == np.float32 and out.dtype.isnative


def noisy_field(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (1, n, n)).astype(np.float32)


def test_crop_finds_a_small_object_in_a_large_cutout():
    data = noisy_field()
    data[0] += 30 * np.roll(gaussian_blob(200, sigma=4.0), (40, -30), axis=(0, 1))
    box = emission_box(data[0])
    assert box is not None
    y0, y1, x0, x1 = box
    assert y0 < 139.5 < y1 and x0 < 69.5 < x1 and (y1 - y0) < 40  # around the object only
    cropped = crop_to_emission(data)
    assert 16 <= cropped.shape[-1] < 60 and abs(cropped.shape[-1] - cropped.shape[-2]) <= 1
    assert cropped.max() == data.max()  # the peak is inside
    for k in (1, 2, 3):  # rotating the image rotates the crop: orientation-free framing
        turned = np.ascontiguousarray(np.rot90(data, k, axes=(-2, -1)))
        assert np.array_equal(crop_to_emission(turned), np.rot90(cropped, k, axes=(-2, -1)))


def test_crop_keeps_bright_companions_and_leaves_empty_images_whole():
    data = noisy_field()
    data[0] += 30 * np.roll(gaussian_blob(200, sigma=3.0), (-50, -50), axis=(0, 1))
    data[0] += 20 * np.roll(gaussian_blob(200, sigma=3.0), (50, 50), axis=(0, 1))
    y0, y1, x0, x1 = emission_box(data[0])
    assert y0 < 50 and y1 > 150 and x0 < 50 and x1 > 150  # both components
    for empty in (noisy_field(), np.zeros((1, 64, 64), np.float32), np.ones((1, 64, 64), "f4")):
        assert crop_to_emission(empty).shape == empty.shape


def test_fast_median_equals_numpys():
    rng = np.random.default_rng(3)
    for size in (1, 2, 3, 10, 11, 1000, 1001):
        for dtype in (np.float32, np.float64):
            values = rng.normal(size=size).astype(dtype)
            values[: size // 2] = np.round(values[: size // 2], 1)  # ties
            assert median(values) == float(np.median(values))
            assert median(values.reshape(-1, 1)) == float(np.median(values))


def test_background_and_noise_survive_zero_clipping_and_constants():
    field = noisy_field(300)[0]
    assert background_and_noise(field)[1] == pytest.approx(1.0, rel=0.05)
    clipped = np.maximum(field, 0.0)  # over half the pixels are exactly zero
    assert background_and_noise(clipped)[1] > 0.3
    assert background_and_noise(np.zeros((10, 10))) == (0.0, 0.0)


def test_noise_stretch_is_in_noise_units_and_safe():
    data = noisy_field(seed=1)
    data[0, 100, 100] = 3000.0  # a bright core beside the noise
    out = noise_stretch(data, knee=3.0)
    assert np.isfinite(out).all()
    assert out.min() >= np.arcsinh(-1.0) - 1e-6  # below-background values clipped at -knee sigma
    assert abs(np.median(out)) < 0.05 and np.arcsinh(900) * 0.99 < out.max() < np.arcsinh(1100)
    assert np.allclose(noise_stretch(np.full((1, 20, 20), 7.0, np.float32)), 0.0)
    np.testing.assert_allclose(noise_stretch(data * 50 + 4), noise_stretch(data), atol=1e-5)
