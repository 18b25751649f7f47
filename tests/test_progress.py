"""Progress in a log file: plain lines at a slow pace, never a redrawn bar."""

from __future__ import annotations

import subprocess
import sys

LOOP = """
import time, morphospace.progress as p
p.LOG_INTERVAL = {interval}
bar = p.progress_bar(range(16), "embed", True, unit="chunk", delay=0)
for step in bar:
    time.sleep(0.1)
    bar.set_postfix(loss=1.0 / (step + 1))  # as training shows its loss at each step
"""


def _logged(tmp_path, interval: float) -> str:
    log = tmp_path / "job.log"
    with log.open("w") as stderr:  # a file, as a SLURM job's log is
        subprocess.run([sys.executable, "-c", LOOP.format(interval=interval)], stderr=stderr,
                       check=True)  # fmt: skip
    return log.read_text()


def test_progress_into_a_log_is_a_plain_line_every_interval_and_one_at_the_end(tmp_path):
    quiet = _logged(tmp_path, 30.0)  # 1.6 s of work: the start and the end, no redraws
    assert "\r" not in quiet and len(quiet.splitlines()) <= 2
    assert quiet.splitlines()[-1].startswith("embed: 100%") and "16/16" in quiet
    busy = _logged(tmp_path, 0.3).splitlines()  # a line every 0.3 s of the 1.6 s
    assert 3 <= len(busy) <= 9 and all(line.startswith("embed:") for line in busy)
    assert busy[-1].startswith("embed: 100%")
