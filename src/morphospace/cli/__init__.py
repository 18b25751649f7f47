"""The ``morphospace`` command: one thin subcommand per library entry point.

Bad input ends with a one-line ``morphospace: error: FILE: problem`` on stderr and exit
code 2, never a traceback. The commands are grouped by theme (:mod:`~morphospace.cli.data`,
:mod:`~morphospace.cli.training`, :mod:`~morphospace.cli.tables`,
:mod:`~morphospace.cli.answers`); an option several of them take is declared once, in
:mod:`~morphospace.cli.options`.
"""

# each module adds its commands, in this order in --help
from morphospace.cli import data, training, tables, answers  # noqa: F401, I001
from morphospace.cli.app import app, main

__all__ = ["app", "main"]
