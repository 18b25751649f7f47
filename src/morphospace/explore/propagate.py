"""Label propagation: a few labelled objects name every object, and say which to label next.

A classifier on the embeddings (logistic regression, or cosine k-NN) learns from the
labelled objects and gives every object a predicted class and its probability. Which of
the two is used is chosen by cross-validated accuracy on the labelled objects, when
there are enough of them to cross-validate. The unlabelled objects the classifier is
least sure of are the ones to label next (uncertainty sampling, the simplest kind of
active learning): each answer there teaches it the most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

from morphospace.choices import (
    PROPAGATE_METHOD,
    PROPAGATE_METHODS,
    SUGGEST,
    PropagateMethod,
    check_choice,
)
from morphospace.explore.search import normalise

__all__ = ["KNN_NEIGHBOURS", "Propagation", "propagate"]

KNN_NEIGHBOURS = 10


@dataclass
class Propagation:
    """What :func:`propagate` found."""

    classes: list[str]
    predicted: np.ndarray  # (N,) class names
    probability: np.ndarray  # (N,) probability of the predicted class
    probabilities: np.ndarray  # (N, n_classes), columns in the order of ``classes``
    method: str  # the classifier used: "logistic" or "knn"
    accuracy: float | None  # cross-validated on the labelled objects; None if too few
    suggested: np.ndarray  # unlabelled object indices to label next, least certain first
    labelled: int  # how many objects had a label

    def columns(self, name: str) -> dict[str, np.ndarray]:
        """Table columns ``NAME_predicted``, ``NAME_probability`` and ``NAME_next`` (the
        rank of each suggested object, 1 = label this one first; empty for the others)."""
        rank = np.full(len(self.predicted), np.nan)
        rank[self.suggested] = np.arange(1, len(self.suggested) + 1)
        return {
            f"{name}_predicted": self.predicted,
            f"{name}_probability": self.probability,
            f"{name}_next": rank,
        }


def propagate(
    embeddings: np.ndarray,
    labels: Sequence[object],
    *,
    method: PropagateMethod = PROPAGATE_METHOD,
    suggest: int = SUGGEST,
    seed: int = 0,
) -> Propagation:
    """Predict a class for every object from the labelled ones.

    Parameters
    ----------
    embeddings : ndarray, shape (N, D)
    labels : sequence of length N
        A class name for each labelled object; None, NaN or "" for the others.
    method : {"auto", "logistic", "knn"}
        ``auto`` picks the one with the higher cross-validated accuracy (logistic
        regression when the classes are too small to cross-validate).
    suggest : int
        How many unlabelled objects to suggest labelling next.
    seed : int
        Seed of the cross-validation folds and of the tie-breaking among suggestions.

    Raises
    ------
    ValueError
        With fewer than two labelled classes; an :class:`InputError` (a ``ValueError``)
        for an unknown method.
    """
    check_choice("--method", method, PROPAGATE_METHODS)
    # Directions on the unit sphere around the sample's centre, as k-NN scoring sees them.
    # The embedding is whitened already: rescaling each feature again would weigh its
    # least informative directions up.
    embeddings = np.asarray(embeddings, dtype=np.float32)
    x = normalise(embeddings - embeddings.mean(axis=0))
    given = _label_strings(labels)
    labelled = np.flatnonzero(given != "")
    classes = np.unique(given[labelled])
    if len(classes) < 2:
        raise ValueError(f"need labels of at least two classes; got {len(classes)}")
    scores = {name: _cross_validated(name, x[labelled], given[labelled], seed) for name in
              (("logistic", "knn") if method == "auto" else (method,))}  # fmt: skip
    chosen = max(scores, key=lambda name: -1.0 if scores[name] is None else scores[name])
    model = _classifier(chosen, len(labelled)).fit(x[labelled], given[labelled])
    probabilities = model.predict_proba(x)
    best = probabilities.argmax(axis=1)
    probability = probabilities[np.arange(len(x)), best]
    unlabelled = np.setdiff1d(np.arange(len(x)), labelled)
    # least certain first; a seeded shuffle breaks ties between equally unsure objects
    order = np.random.default_rng(seed).permutation(unlabelled)
    suggested = order[np.argsort(probability[order], kind="stable")][:suggest]
    return Propagation(
        classes=[str(c) for c in model.classes_],
        predicted=model.classes_[best].astype(object),
        probability=probability,
        probabilities=probabilities,
        method=chosen,
        accuracy=scores[chosen],
        suggested=suggested,
        labelled=len(labelled),
    )


def _label_strings(labels: Sequence[object]) -> np.ndarray:
    values = pd.Series(list(labels), dtype=object)
    missing = values.isna() | (values.astype(str).str.strip() == "")
    return np.where(missing, "", values.astype(str).str.strip()).astype(object)


def _classifier(name: str, n_labelled: int):
    if name == "knn":
        k = max(1, min(KNN_NEIGHBOURS, n_labelled - 1))
        return KNeighborsClassifier(n_neighbors=k, weights="distance", metric="cosine")
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")


def _cross_validated(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> float | None:
    """Stratified cross-validated accuracy, or None when a class has a single member."""
    n_folds = min(5, int(np.unique(y, return_counts=True)[1].min()))
    if n_folds < 2:
        return None
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    right = 0
    for train, test in splitter.split(x, y):
        model = _classifier(name, len(train)).fit(x[train], y[train])
        right += int((model.predict(x[test]) == y[test]).sum())
    return right / len(y)
