"""Package names that import their module when first used.

A package's ``__init__`` that imported every submodule would make each command pay for
all of them: ``morphospace explore`` would wait seconds for torch and matplotlib before it
serves a page that needs neither. A package declares its names here instead
(PEP 562's module ``__getattr__``), and ``from morphospace.embed import EmbeddingTable``
imports ``morphospace.embed.table`` alone.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(
    package: str, modules: dict[str, list[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` of ``package``, whose public names are
    ``modules``' (module path -> the names it defines)."""
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home[name]), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)
