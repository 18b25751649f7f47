"""Preprocessing: small pure functions, and the recorded chain that applies them."""

from morphospace.preprocess.chain import (
    CapSize,
    Channels,
    Clip,
    Fill,
    Frame,
    Normalise,
    PreprocessChain,
    Resample,
    Stretch,
)
from morphospace.preprocess.spectral import bin_channels, moment_maps
from morphospace.preprocess.steps import (
    cap_size,
    clip_percentile,
    fill_masked,
    normalise,
    resample,
    stretch,
)

__all__ = [
    "CapSize",
    "Channels",
    "Clip",
    "Fill",
    "Frame",
    "Normalise",
    "PreprocessChain",
    "Resample",
    "Stretch",
    "bin_channels",
    "cap_size",
    "clip_percentile",
    "fill_masked",
    "moment_maps",
    "normalise",
    "resample",
    "stretch",
]
