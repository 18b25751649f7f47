"""Commands that answer one question about a table: ``similar``, ``anomalies``, ``label``
and ``evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morphospace.choices import PROPAGATE_METHOD, PROPAGATE_METHODS, SUGGEST, check_choice
from morphospace.cli.options import (
    AnswerTo,
    Matching,
    answer_options,
    matching_options,
    one_column,
    progress_option,
    run_or_table_argument,
    seed_option,
    table_argument,
    with_options,
)
from morphospace.cli.root import app
from morphospace.errors import InputError

__all__ = ["anomalies", "evaluate", "label", "similar"]


@app.command()
@with_options(embeddings=table_argument, answer=answer_options)
def similar(
    embeddings: Path,
    answer: AnswerTo,
    query: Annotated[str, typer.Argument(help="Object id or OBJECT name, or a FITS file.")],
    k: Annotated[int, typer.Option("-k", help="Number of neighbours.", min=1)] = 12,
    run: Annotated[
        Path | None,
        typer.Option(help="Run whose model embeds a new FITS file (default: recorded)."),
    ] = None,
) -> None:
    """The objects most similar to one of interest (cosine similarity of embeddings)."""
    from morphospace.report.queries import similar_to

    answer.write(similar_to(embeddings, query, k, run=run, gallery=answer.gallery))


@app.command()
@with_options(embeddings=table_argument, answer=answer_options)
def anomalies(
    embeddings: Path,
    answer: AnswerTo,
    n: Annotated[int, typer.Option("-n", help="How many to list.", min=1)] = 50,
    marks: Annotated[
        str | None,
        typer.Option(
            help="Re-rank by your marks, as marks.csv:COLUMN (1/yes = interesting, 0/no = not)."
        ),
    ] = None,
) -> None:
    """The most unusual objects, ranked (isolation forest, LOF and k-NN distance combined)."""
    from morphospace.report.queries import top_anomalies

    marked = one_column(marks, "--marks")
    answer.write(top_anomalies(embeddings, n, gallery=answer.gallery, marks=marked))


@app.command()
@with_options(table=run_or_table_argument, answer=answer_options)
def label(
    table: Path,
    answer: AnswerTo,
    labels: Annotated[
        str, typer.Option(help="The labels you have, as labels.csv:COLUMN (blank = unlabelled).")
    ],
    method: Annotated[
        str, typer.Option(help="auto (by cross-validated accuracy), logistic or knn.")
    ] = PROPAGATE_METHOD,
    suggest: Annotated[
        int, typer.Option(help="How many objects to suggest labelling next.", min=0)
    ] = SUGGEST,
) -> None:
    """Propagate a few labels to every object; writes COLUMN_predicted, _probability, _next."""
    from morphospace.embed import find_table
    from morphospace.report.queries import label_objects

    check_choice("--method", method, PROPAGATE_METHODS)
    path = find_table(table)
    column = one_column(labels, "--labels")
    found = label_objects(path, column, method=method, suggest=suggest, gallery=answer.gallery)
    typer.echo(f"columns written to {path}")
    answer.write(found)


@app.command()
@with_options(
    embeddings=table_argument,
    matching=matching_options,
    seed=seed_option,
    progress=progress_option,
)
def evaluate(
    embeddings: Path,
    matching: Matching,
    seed: int,
    progress: bool,
    labels: Annotated[
        str | None, typer.Option(help="Classes to score against, as labels.csv:COLUMN.")
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(help="Continuous parameters, as labels.csv:radius,inclination,flux."),
    ] = None,
    baselines: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: pixel_pca, random, supervised, 'all' or 'none' "
            "(default: random, the untrained network, when --labels or --params are given)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Folder for evaluation.json/.md (default: beside the table)."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="The run's folder (default: as the table records).")
    ] = None,
    invariance: Annotated[
        bool, typer.Option(help="Measure orientation invariance (needs the run and files).")
    ] = True,
    supervised_epochs: Annotated[
        int, typer.Option(help="Epochs per fold of the supervised baseline.", min=1)
    ] = 20,
) -> None:
    """Figures of merit: k-NN and linear probe, silhouette, ARI/NMI, R², invariance."""
    from morphospace.evaluate.scorecard import BASELINES, evaluate_table, read_columns
    from morphospace.progress import stages

    names: list[str] | None = None
    if baselines is not None:
        names = [b.strip() for b in baselines.split(",") if b.strip()]
        names = list(BASELINES) if names == ["all"] else [] if names == ["none"] else names
    classes, values = one_column(labels, "--labels"), read_columns(params, "--params")
    if matching.on is not None and classes is None and values is None:
        raise InputError("--join-on", "names columns to match, so it needs --labels or --params")
    with stages("evaluate", None, progress) as stage:
        card = evaluate_table(
            embeddings,
            labels=classes and (matching.join(classes[0], "--labels"), classes[1]),
            params=values and (matching.join(values[0], "--params"), values[1]),
            baselines=names,
            run_dir=run_dir,
            invariance=invariance,
            supervised_epochs=supervised_epochs,
            seed=seed,
            progress=stage,
        )
    written = card.write(output or embeddings.parent / "evaluation")
    typer.echo(card.to_markdown())
    typer.echo(f"written: {written[0]} and {written[1]}")
