"""What a training run writes beside its model: the settings it ran with
(``RUN/config.toml``), the files it could not use (``RUN/skipped.csv``), and its logs
(``RUN/logs/``: CSV and TensorBoard)."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from morphospace.config import Settings
from morphospace.files import atomic_write
from morphospace.io.reader import Problem, write_problems

__all__ = ["TrainingLogs", "report_skipped", "write_config"]


def write_config(run_dir: Path, settings: Settings) -> Path:
    """``RUN/config.toml``: the resolved settings, which ``load_settings`` reads back."""
    run_dir.mkdir(parents=True, exist_ok=True)
    text = settings.to_toml()
    path = run_dir / "config.toml"
    atomic_write(path, lambda temporary: temporary.write_text(text))
    return path


def report_skipped(problems: Sequence[Problem], run_dir: Path) -> Path:
    """List the unusable files in ``RUN/skipped.csv``, and warn once."""
    report = write_problems(problems, run_dir / "skipped.csv")
    warnings.warn(f"skipped {len(problems)} unusable files; see {report}", stacklevel=3)
    return report


class TrainingLogs:
    """CSV logs (steps and epochs) and TensorBoard scalars under ``RUN/logs``.

    A resumed run appends to its CSV files; a fresh run starts them anew.
    """

    def __init__(self, folder: Path, append: bool):
        from torch.utils.tensorboard import SummaryWriter

        folder.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"
        self.steps = (folder / "steps.csv").open(mode, newline="")
        self.epochs = (folder / "epochs.csv").open(mode, newline="")
        self.step_writer = csv.writer(self.steps)
        self.epoch_writer: csv.DictWriter | None = None
        if self.steps.tell() == 0:
            self.step_writer.writerow(["step", "epoch", "loss", "lr", "tau", "images_per_second"])
        self.tensorboard = SummaryWriter(log_dir=str(folder))

    def step(self, step: int, epoch: int, loss: float, lr: float, tau: float, rate: float) -> None:
        self.step_writer.writerow(
            [step, epoch, f"{loss:.6g}", f"{lr:.6g}", f"{tau:.6g}", f"{rate:.1f}"]
        )
        for name, value in (
            ("loss/train_step", loss),
            ("lr", lr),
            ("tau", tau),
            ("images_per_second", rate),
        ):
            self.tensorboard.add_scalar(name, value, step)

    def epoch(self, record: dict[str, Any]) -> None:
        if self.epoch_writer is None:
            self.epoch_writer = csv.DictWriter(self.epochs, fieldnames=list(record))
            if self.epochs.tell() == 0:
                self.epoch_writer.writeheader()
        self.epoch_writer.writerow(record)
        for name in ("train_loss", "val_loss", "spread"):
            if record.get(name) is not None:
                self.tensorboard.add_scalar(f"epoch/{name}", record[name], record["epoch"])
        self.steps.flush()
        self.epochs.flush()

    def close(self) -> None:
        self.tensorboard.close()
        self.steps.close()
        self.epochs.close()
