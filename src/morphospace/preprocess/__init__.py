"""Preprocessing: small pure functions, and the recorded chain that applies them."""

from morphospace.preprocess.chain import (
    CapSize,
    Channels,
    Clip,
    Crop,
    Fill,
    Frame,
    NoiseStretch,
    Normalise,
    PreprocessChain,
    Resample,
    Stretch,
)
from morphospace.preprocess.spectral import bin_channels, moment_maps
from morphospace.preprocess.steps import (
    background_and_noise,
    cap_size,
    clip_percentile,
    crop_to_emission,
    emission_box,
    fill_masked,
    noise_stretch,
    normalise,
    resample,
    stretch,
)

__all__ = [
    "CapSize",
    "Channels",
    "Clip",
    "Crop",
    "Fill",
    "Frame",
    "NoiseStretch",
    "Normalise",
    "PreprocessChain",
    "Resample",
    "Stretch",
    "background_and_noise",
    "bin_channels",
    "cap_size",
    "clip_percentile",
    "crop_to_emission",
    "emission_box",
    "fill_masked",
    "moment_maps",
    "noise_stretch",
    "normalise",
    "resample",
    "stretch",
]
