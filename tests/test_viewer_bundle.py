"""The committed viewer bundle is the build of its sources in frontend/.

``npm run build`` records in ``frontend/built.json`` the SHA-256 of every source it built
from and of the bundle it wrote. A source changed without a rebuild, or a bundle edited by
hand, no longer matches the record, and the test says how to rebuild.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = "frontend/built.json"
BUNDLE = ("src/morphospace/report/viewer/viewer.js",
          "src/morphospace/report/viewer/viewer.js.LEGAL.txt")  # fmt: skip


def _sources(root: Path) -> list[str]:
    found = [p.relative_to(root).as_posix() for p in (root / "frontend" / "src").rglob("*")]
    return sorted([*found, "frontend/package.json", "frontend/package-lock.json"])


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def stale(root: Path) -> list[str]:
    """What no longer matches the record of the last build: one line each, empty if none."""
    record = json.loads((root / RECORD).read_text())
    rebuild = f"rebuild it with `{record['rebuild']}` and commit the result"
    problems = []
    for kind, paths in (("sources", _sources(root)), ("bundle", BUNDLE)):
        recorded = record[kind]
        for path in sorted(set(paths) | set(recorded)):
            if recorded.get(path) != _digest(root / path):
                what = "changed since the viewer was built" if kind == "sources" else (
                    "is not the bundle that was built from frontend/"
                )  # fmt: skip
                problems.append(f"{path} {what}: {rebuild}")
    return problems


def test_the_committed_viewer_is_the_build_of_its_sources():
    problems = stale(ROOT)
    assert not problems, "\n".join(problems)


def _copy(tmp_path: Path) -> Path:
    """The files the record speaks of, copied under ``tmp_path``."""
    for path in [RECORD, *_sources(ROOT), *BUNDLE]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    return tmp_path


def test_a_source_edited_without_a_rebuild_is_caught_and_told_how_to_rebuild(tmp_path):
    root = _copy(tmp_path)
    assert stale(root) == []
    with (root / "frontend/src/viewer.js").open("a") as source:
        source.write("\n// an edit made without running the build\n")
    (problem,) = stale(root)
    assert problem.startswith("frontend/src/viewer.js changed since the viewer was built")
    assert "cd frontend && npm ci && npm run build" in problem


def test_a_bundle_edited_by_hand_or_a_new_source_is_caught(tmp_path):
    root = _copy(tmp_path)
    bundle = root / BUNDLE[0]
    bundle.write_text(bundle.read_text().replace("objects.", "objects!", 1))
    (root / "frontend/src/extra.js").write_text("export const extra = 1;\n")
    problems = stale(root)
    assert len(problems) == 2
    assert problems[0].startswith("frontend/src/extra.js changed since the viewer was built")
    assert problems[1].startswith(f"{BUNDLE[0]} is not the bundle that was built from frontend/")
