"""The package is shaped like the data flow: imports go one way, front ends go through the
table layer, every public module says what it exports, and every package loads alike."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import morphospace

PACKAGE = Path(morphospace.__file__).parent
FRONT_ENDS = ("pipeline", "runs", "cli")
#: What each box must never import: the boxes after it in the data flow, and the front ends.
DOWNSTREAM = {
    "io": {"preprocess", "dataset", "augment", "byol", "train", "models", "embed", "explore",
           "evaluate", "report", "app"},
    "preprocess": {"dataset", "augment", "byol", "train", "models", "embed", "explore",
                   "evaluate", "report", "app"},
    "dataset": {"augment", "byol", "train", "models", "embed", "explore", "evaluate", "report",
                "app"},
    "train": {"embed", "explore", "evaluate", "report", "app"},
    "models": {"train", "embed", "explore", "evaluate", "report", "app"},
    "embed": {"train", "explore", "evaluate", "report", "app"},
    "explore": {"train", "evaluate", "report", "app"},
    "evaluate": {"train", "report", "app"},
    "report": {"train", "evaluate", "app"},
    "app": {"train", "evaluate"},
}  # fmt: skip


def _modules(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The morphospace boxes a module imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("morphospace.") and "." in n}
    return found


@pytest.mark.parametrize("box", sorted(DOWNSTREAM))
def test_imports_go_with_the_data_flow(box):
    for module in _modules(box):
        wrong = imported(module) & (DOWNSTREAM[box] | set(FRONT_ENDS))
        assert not wrong, f"{module.relative_to(PACKAGE)} imports {sorted(wrong)}"


def _calls(path: Path) -> set[str]:
    """The names a module calls, as ``name`` or ``object.name``."""
    called = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                called.add(node.func.id)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                called.add(f"{node.func.value.id}.{node.func.attr}")
    return called


def test_front_ends_ask_the_table_layer_for_what_it_builds():
    # the search index, anomaly scores, framing, the table's model, labels and marks are
    # made in explore.table.RunTable alone; the front ends ask it for them
    built_there = {"SimilarityIndex", "anomaly_scores", "framing_of", "LabelStore", "propagate",
                   "rerank", "Embedder.from_run"}  # fmt: skip
    fronts = [*_modules("app"), *_modules("report"), *_modules("cli"), *_modules("evaluate")]
    fronts += [PACKAGE / "runs.py"]
    for module in fronts:
        wrong = _calls(module) & built_there
        assert not wrong, f"{module.relative_to(PACKAGE)} calls {sorted(wrong)}"


def _assigns_all(path: Path) -> bool:
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(n, ast.Name) and n.id == "__all__" for n in names):
                return True
    return False


def test_every_public_module_says_what_it_exports_and_has_it():
    for path in _modules():
        if path.name.startswith("_") and path.name != "__init__.py":
            continue  # private: speed tricks, the lazy loader, python -m
        assert _assigns_all(path), f"{path.relative_to(PACKAGE)} declares no __all__"
        name = ".".join(("morphospace", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = importlib.import_module(name.removesuffix(".__init__"))
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name} exports {exported} but has none"


def test_every_package_loads_its_modules_when_first_used():
    light = {"morphospace._lazy", "morphospace.errors", "importlib.metadata"}
    for front in sorted(PACKAGE.rglob("__init__.py")):
        imports = [n for n in ast.parse(front.read_text()).body if isinstance(n, ast.ImportFrom)]
        eager = [n.module for n in imports if n.module not in light]
        assert "lazy_exports" in _calls(front) and not eager, front.relative_to(PACKAGE)


def _loaded_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after ``statement``."""
    listing = "print(' '.join({name.split('.')[0] for name in sys.modules}))"
    code = f"import sys\n{statement}\n{listing}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_command_line_and_the_explorer_load_only_what_they_use():
    # --help and the parsing of every command: no scientific stack at all
    assert not _loaded_after("from morphospace.cli import main") & {
        "torch", "sklearn", "matplotlib", "astropy", "pandas", "umap", "faiss"}  # fmt: skip
    # the explorer's server reads tables and serves the page: neither torch nor matplotlib
    assert not _loaded_after("from morphospace.app.server import create_app") & {
        "torch", "matplotlib"}  # fmt: skip
