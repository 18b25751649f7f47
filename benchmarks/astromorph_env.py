"""A virtual environment with astromorph 0.1.2, the reference system, for side-by-side runs.

It lives in ``.bench/astromorph-venv``. torch, torchvision, numpy and astropy come from
morphospace's own environment through a ``.pth`` file, so both systems run the very same
torch build; pip installs astromorph 0.1.2 and its remaining requirements from the
registry. astromorph declares Python 3.12 but runs on 3.11, hence
``--ignore-requires-python``; its command line also needs click.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "astromorph-venv"


def astromorph_python() -> Path:
    """Path of the benchmark venv's python, creating and filling the venv on first use."""
    python = VENV / "bin" / "python"
    marker = VENV / ".astromorph-0.1.2"
    if marker.exists():
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]  # this interpreter's (morphospace's) packages
    (Path(purelib) / "morphospace-shared.pth").write_text(ours + "\n")
    print(f"installing astromorph 0.1.2 into {VENV} (once) …", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--ignore-requires-python",
         "astromorph==0.1.2", "click"],
        check=True,
    )  # fmt: skip
    marker.touch()
    return python


def run_harness(script: str, *args: object) -> dict[str, float]:
    """Run a harness script of this folder in the astromorph venv; its ``name=value`` prints."""
    path = Path(__file__).with_name(script)
    proc = subprocess.run(
        [str(astromorph_python()), str(path), *map(str, args)],
        capture_output=True,
        text=True,
    )
    figures = {name: float(value) for name, value in re.findall(r"(\w+)=([0-9.]+)", proc.stdout)}
    if proc.returncode != 0 or "objects_per_second" not in figures:
        raise SystemExit(f"astromorph run failed:\n{proc.stderr[-3000:]}")
    return figures


def shared_objects(root: Path, n: int) -> tuple[Path, Path]:
    """The benchmarks' synthetic set (n objects of 48-128 px) and an astromorph file list of it."""
    from morphospace.synth import synthesize

    synthesize(root, n, size=(48, 128), seed=0)
    images = root / "images"
    filelist = root / "files.txt"
    filelist.write_text("\n".join(str(p) for p in sorted(images.glob("*.fits"))) + "\n")
    return images, filelist
