"""Synthetic FITS images and cubes with known morphology, for tests, the demo and evaluation."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.synth.generate": ["LABEL_COLUMNS", "class_names", "render", "synthesize"],
    },
)
