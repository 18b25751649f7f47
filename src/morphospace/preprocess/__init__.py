"""Preprocessing: small pure functions, and the recorded chain that applies them."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.preprocess.chain": [
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
        ],
        "morphospace.preprocess.spectral": ["bin_channels", "moment_maps"],
        "morphospace.preprocess.steps": [
            "background_and_noise",
            "cap_size",
            "clip_percentile",
            "crop_to_emission",
            "emission_box",
            "fill_masked",
            "noise_stretch",
            "normalise",
            "resample",
            "stretch",
        ],
    },
)
