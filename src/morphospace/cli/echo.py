"""What the commands print when their work is done, one function per kind of result."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

__all__ = ["echo_embedding", "echo_pipeline", "echo_report", "echo_training"]


def echo_embedding(result) -> None:
    """Say what ``embed`` wrote, and warn of the first files it skipped."""
    for problem in result.problems[:5]:
        warnings.warn(f"skipped {problem}", stacklevel=1)
    more = f" ({len(result.problems)} skipped, listed in embed_skipped.csv)"
    typer.echo(
        f"embedded {len(result.table)} objects ({result.table.embeddings.shape[1]} dimensions)"
        f"{more if result.problems else ''}: {result.path}"
    )


def echo_report(result) -> None:
    """Say what ``report`` wrote, and how its catalogue matched."""
    if result.join is not None:
        typer.echo(result.join)
    for problem in result.problems[:5]:
        warnings.warn(f"no thumbnail for {problem}", stacklevel=1)
    k, n = result.table.info.get("k"), len(result.table)
    fit = result.table.info.get("fit_sample", n)
    sampled = (
        f" (map, clusters and anomaly detectors fitted on a sample of {fit})" if fit < n else ""
    )
    typer.echo(
        f"{n} objects, {k} clusters{sampled}; wrote {len(result.files)} files to {result.folder}"
    )
    table = result.table.path or result.folder.parent
    typer.echo(
        f"open {result.folder / 'index.html'} in a browser, "
        f"or label and triage in the explorer: morphospace explore {table}"
    )


def echo_training(result, output: Path, command: str) -> None:
    """Say how training ended, and where the model is (or how to continue it)."""
    if not result.finished:
        typer.echo(
            f"stopped after epoch {result.epochs} of {result.total_epochs}; "
            f"continue with: morphospace {command} -o {output} --resume"
        )
        return
    val = f", val loss {result.val_loss:.4f}" if result.val_loss is not None else ""
    typer.echo(
        f"trained {result.epochs} epochs ({result.steps} steps): "
        f"train loss {result.train_loss:.4f}{val}, embedding spread {result.spread:.2f}, "
        f"{result.images_per_second:.0f} images/s"
    )
    typer.echo(f"model: {output / 'model.safetensors'} (+ model.json); logs: {output / 'logs'}")


def echo_pipeline(result) -> None:
    """Say what ``run`` (or ``demo``) made: the model, the table and the report."""
    echo_training(result.training, result.run_dir, "run")
    if result.embeddings is not None:
        echo_embedding(result.embeddings)
        echo_report(result.report)
