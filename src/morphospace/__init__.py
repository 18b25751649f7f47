"""morphospace: label-free morphology exploration of astronomical images and cubes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("morphospace")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from morphospace.errors import InputError, MorphospaceError

__all__ = ["InputError", "MorphospaceError", "__version__"]
