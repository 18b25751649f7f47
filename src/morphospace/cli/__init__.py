"""The ``morphospace`` command: one thin subcommand per library entry point.

Bad input ends with a one-line ``morphospace: error: FILE: problem`` on stderr and exit
code 2, never a traceback. The commands are grouped by theme (:mod:`~morphospace.cli.data`,
:mod:`~morphospace.cli.training`, :mod:`~morphospace.cli.tables`,
:mod:`~morphospace.cli.answers`); an option several of them take is declared once, in
:mod:`~morphospace.cli.options`.
"""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {"morphospace.cli.entry": ["app", "main"]})
