"""A virtual environment with astromorph 0.1.2, the reference system, for side-by-side runs.

It lives in ``.bench/astromorph-venv``. torch, torchvision, numpy and astropy come from
morphospace's own environment through a ``.pth`` file, so both systems run the very same
torch build; pip installs astromorph 0.1.2 and its remaining requirements from the
registry. astromorph declares Python 3.12 but runs on 3.11, hence
``--ignore-requires-python``; its command line also needs click.
"""

from __future__ import annotations

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
