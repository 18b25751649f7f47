"""morphospace: label-free morphology exploration of astronomical images and cubes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("morphospace")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from morphospace._lazy import lazy_exports
from morphospace.errors import InputError, MorphospaceError

# open_run loads pandas and the table code only when a notebook first asks for it
__getattr__, _dir, _lazy = lazy_exports(__name__, {"morphospace.runs": ["Run", "open_run"]})
__all__ = ["InputError", "MorphospaceError", "__version__", *_lazy]


def __dir__() -> list[str]:
    return sorted(set(_dir()) | set(__all__))
