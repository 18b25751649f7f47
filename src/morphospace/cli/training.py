"""Commands that train: ``train``, ``run`` (train, embed and report) and ``demo``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morphospace.cli.echo import echo_pipeline, echo_training
from morphospace.cli.options import (
    TrainingRequest,
    progress_option,
    report_options,
    seed_option,
    training_options,
    tta_option,
    with_options,
)
from morphospace.cli.root import app

if TYPE_CHECKING:
    from morphospace.report.options import ReportOptions

__all__ = ["demo", "run", "train"]


@app.command()
@with_options(training=training_options)
def train(training: TrainingRequest) -> None:
    """Train a BYOL encoder on your objects; writes RUN/model.safetensors and RUN/model.json."""
    from morphospace.train import Trainer

    output = training.output
    result = Trainer(
        training.settings,
        output,
        resume=training.resume,
        progress=training.progress,
        stop_after=training.stop_after,
    ).fit()
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun, rank 0 reports for everyone
    echo_training(result, output, "train")


@app.command()
@with_options(training=training_options, tta=tta_option, report=report_options)
def run(training: TrainingRequest, tta: bool, report: ReportOptions) -> None:
    """Train, embed and report in one go: RUN/model.*, RUN/embeddings.parquet, RUN/report/."""
    from morphospace.pipeline import run_pipeline

    result = run_pipeline(
        training.settings,
        training.output,
        resume=training.resume,
        progress=training.progress,
        stop_after=training.stop_after,
        tta=tta,
        report=report,
        announce=typer.echo,
    )
    echo_pipeline(result)


@app.command()
@with_options(seed=seed_option, progress=progress_option)
def demo(
    seed: int,
    progress: bool,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for everything.")] = Path(
        "demo-output"
    ),
    n: Annotated[int | None, typer.Option("-n", help="Synthetic objects [400].", min=20)] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs [30].", min=1)] = None,
) -> None:
    """Synthetic data, then train, embed and report: the whole package in a few minutes."""
    import time

    from morphospace.pipeline import demo as run_demo

    start = time.perf_counter()
    sizes = {name: value for name, value in (("n", n), ("epochs", epochs)) if value is not None}
    result = run_demo(output, seed=seed, progress=progress, **sizes)
    echo_pipeline(result)
    typer.echo(f"demo finished in {time.perf_counter() - start:.0f} s")
