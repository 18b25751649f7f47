"""Answers to single questions: "what looks like this object?", "what is unusual?" and
"what are all the others, given these few labels?".

Each answer is a ranked table (printed by the CLI) and a gallery PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from morphospace.choices import PROPAGATE_METHOD, SUGGEST, PropagateMethod
from morphospace.errors import InputError
from morphospace.explore.table import RunTable
from morphospace.files import safe_filename
from morphospace.io import read_fits
from morphospace.report import figures
from morphospace.report.thumbnails import thumbnail, thumbnails_of

__all__ = ["Answer", "label_objects", "similar_to", "top_anomalies"]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.fz", ".fz")


@dataclass
class Answer:
    """A ranked table of objects and the gallery drawn of them."""

    rows: pd.DataFrame
    gallery: Path
    title: str

    def format(self) -> str:
        """The table as aligned text, for the terminal."""
        return f"{self.title}\n{self.rows.to_string(index=False, float_format=_fmt)}"


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _columns(rows: pd.DataFrame, first: list[str]) -> list[str]:
    return [c for c in (*first, "id", "object", "cluster", "path") if c in rows.columns]


def similar_to(
    table_path: str | Path,
    query: str,
    k: int = 12,
    *,
    run: str | Path | None = None,
    gallery: str | Path | None = None,
) -> Answer:
    """The ``k`` objects most similar to ``query``: an id or OBJECT name in the table, or a
    FITS file, which is embedded on the fly with the run's model (``run``, by default the
    one recorded in the table)."""
    table_path = Path(table_path)
    table = RunTable.open(table_path, columns=("object",))  # the rest of the answer's rows only
    if _looks_like_file(query):
        vector, query_thumb, label = _embed_file(table, Path(query), run)
        near, score = table.similar(vector, k)
        near_thumbs, _ = thumbnails_of(table.rows(near), framing=table.framing)
        thumbs = np.concatenate([query_thumb[None], near_thumbs])
    else:
        row = table.find(query)
        near, score = table.similar(row, k)
        thumbs, _ = thumbnails_of(table.rows([row, *near]), framing=table.framing)  # query first
        label = table.ids[row]
    rows = table.rows(near)
    rows.insert(0, "similarity", score)
    rows.insert(0, "rank", np.arange(1, len(near) + 1))
    rows = rows[_columns(rows, ["rank", "similarity"])]
    captions = {0: f"query: {label}"[:24]}
    captions.update(
        {i + 1: f"{s:.3f} {n}"[:24] for i, (s, n) in enumerate(zip(score, rows["id"], strict=True))}
    )
    path = Path(gallery) if gallery else table_path.parent / f"similar_{safe_filename(label)}.png"
    figures.gallery(
        thumbs,
        figures.in_rows(range(len(thumbs)), 7),
        path,
        f"objects most similar to {label} (cosine similarity)",
        captions=captions,
    )
    return Answer(rows, path, f"{len(rows)} objects most similar to {label}:")


def top_anomalies(
    table_path: str | Path,
    n: int = 50,
    *,
    gallery: str | Path | None = None,
    marks: tuple[str | Path, str] | None = None,
) -> Answer:
    """The ``n`` most anomalous objects; scores come from the table when ``report`` has run.

    ``marks`` (a CSV and its column: 1 or yes = interesting, 0 or no = not, blank = not
    marked) re-ranks them by what the user finds interesting (:func:`~morphospace.explore.
    anomalies.rerank`); the table then gains ``anomaly_interest``, ``anomaly_reranked`` and
    ``anomaly_reranked_rank``, written atomically.
    """
    table_path = Path(table_path)
    table = RunTable.open(table_path)
    rows = table.rows()
    for name, values in table.anomalies().items():  # the report's, or computed now
        rows[name] = values.to_numpy()
    rank_column = "anomaly_rank"
    if marks is not None:
        given = _marks(table, *marks)
        try:
            reranked = table.rerank(given)
        except ValueError as exc:
            raise InputError(marks[0], str(exc)) from None
        table.with_columns(dict(reranked.items())).write()
        rows = pd.concat([rows.drop(columns=reranked.columns, errors="ignore"), reranked], axis=1)
        rank_column = "anomaly_reranked_rank"
    top = np.argsort(rows[rank_column].to_numpy(), kind="stable")[:n]
    ranked = rows.iloc[top]
    shown = [rank_column, "anomaly", "anomaly_interest"] if marks else ["anomaly_rank", "anomaly"]
    ranked = ranked[_columns(ranked, [*shown, "anomaly_knn"])]
    thumbs, _ = thumbnails_of(rows.iloc[top], framing=table.framing)
    path = Path(gallery) if gallery else table_path.parent / "anomalies_top.png"
    captions = {
        i: f"#{r} {name}"[:24]
        for i, (r, name) in enumerate(zip(ranked[rank_column], ranked["id"], strict=True))
    }
    figures.gallery(
        thumbs,
        figures.in_rows(range(len(top)), 8),
        path,
        f"the {len(top)} most anomalous objects",
        captions=captions,
    )
    return Answer(ranked, path, f"{len(ranked)} most anomalous of {len(rows)} objects:")


_MARK_WORDS = {"1": 1.0, "1.0": 1.0, "yes": 1.0, "true": 1.0, "interesting": 1.0,
               "0": 0.0, "0.0": 0.0, "no": 0.0, "false": 0.0, "not interesting": 0.0}  # fmt: skip


def _marks(table: RunTable, source: str | Path, column: str) -> np.ndarray:
    """A CSV column of interesting / not interesting marks as 1.0, 0.0 or NaN per object."""
    words = pd.Series(table.joined_column(source, column)).dropna().astype(str)
    words = words.str.strip().str.lower()
    words = words[words != ""]
    unknown = sorted(set(words) - set(_MARK_WORDS))
    if unknown:
        raise InputError(source, f"column {column!r}: {unknown[0]!r} is not 1/yes or 0/no")
    marks = np.full(len(table), np.nan)
    marks[words.index] = words.map(_MARK_WORDS).to_numpy()
    return marks


def label_objects(
    table_path: str | Path,
    labels: tuple[str | Path, str],
    *,
    method: PropagateMethod = PROPAGATE_METHOD,
    suggest: int = SUGGEST,
    gallery: str | Path | None = None,
    seed: int = 0,
) -> Answer:
    """Propagate a few labels to every object of a table, and suggest what to label next.

    ``labels`` is a CSV and its column of class names; the CSV's rows are matched to the
    objects as ``report --join`` matches them, and objects without a value are unlabelled.
    The table gains ``COLUMN_predicted``, ``COLUMN_probability`` and ``COLUMN_next`` (1 =
    label this one first), written atomically; the answer lists the suggested objects.
    """
    table = RunTable.open(table_path)
    source, column = labels
    given = table.joined_column(source, column)
    try:
        found = table.propagate(list(given), method=method, suggest=suggest, seed=seed)
    except ValueError as exc:
        raise InputError(source, str(exc)) from None
    table = table.with_columns(found.columns(column))
    table.write()
    rows = table.rows(found.suggested)
    rows.insert(0, "next", np.arange(1, len(rows) + 1))
    wanted = ["next", f"{column}_predicted", f"{column}_probability"]
    rows = rows[_columns(rows, wanted)]
    path = Path(gallery or Path(table_path).parent / f"label_next_{safe_filename(column)}.png")
    if len(rows):
        thumbs, _ = thumbnails_of(table.rows(found.suggested), framing=table.framing)
        guesses = zip(rows[f"{column}_predicted"], rows[f"{column}_probability"], strict=True)
        captions = {i: f"{i + 1}: {name} ({p:.2f})"[:24] for i, (name, p) in enumerate(guesses)}
        layout = figures.in_rows(range(len(thumbs)), 7)
        figures.gallery(thumbs, layout, path, "label these next", captions=captions)
    accuracy = f"{found.accuracy:.3f}" if found.accuracy is not None else "not measurable yet"
    title = (
        f"propagated {column!r} from {found.labelled} labelled objects "
        f"({len(found.classes)} classes) to {len(table)} with {_METHOD_NAMES[found.method]} "
        f"(cross-validated accuracy {accuracy}); label these {len(rows)} next:"
    )
    return Answer(rows, path, title)


_METHOD_NAMES = {"logistic": "logistic regression", "knn": "k-NN"}


def _looks_like_file(query: str) -> bool:
    return query.lower().endswith(FITS_SUFFIXES) or Path(query).is_file()


def _embed_file(table: RunTable, path: Path, run: str | Path | None):
    """The vector of a FITS file embedded with the table's model, its thumbnail and name."""
    embedder = table.embedder(run)
    objects = embedder.load([path], on_error="fail", workers=1)
    vector = embedder.transform(objects.arrays, [str(path)])
    image = read_fits(path, hdu=objects.metas[0].hdu)
    return vector, thumbnail(image, framing=table.framing), path.name
