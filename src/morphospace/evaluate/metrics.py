"""Figures of merit for an embedding: how well it separates, predicts and ignores orientation.

Every function takes plain arrays, so the same code scores morphospace embeddings and the
baselines. Probes are cross-validated on stratified folds fixed by a seed, so two
embeddings of the same objects are scored on exactly the same splits.

- :func:`knn_accuracy`: k-nearest-neighbour vote by cosine similarity (k = 10), the
  embedding centred on the training folds' mean.
- :func:`linear_probe_accuracy`: logistic regression on standardised embeddings.
- :func:`label_silhouette`, :func:`cluster_agreement`: how compact the labelled classes
  are, and how well unsupervised clusters recover them (ARI, NMI).
- :func:`ridge_r2`, :func:`axis_spearman`: how much of a continuous parameter the
  embedding, and the 2-D map, carry.
- :func:`orientation_invariance`: cosine similarity of an object with its rotated and
  flipped copies, against that of different objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, stats
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import (
    adjusted_rand_score,
    normalized_mutual_info_score,
    r2_score,
    silhouette_score,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from morphospace.explore.search import normalise

__all__ = [
    "Invariance",
    "axis_spearman",
    "cluster_agreement",
    "fit_linear_probe",
    "folds",
    "knn_accuracy",
    "knn_predict",
    "label_silhouette",
    "linear_probe_accuracy",
    "orientation_invariance",
    "regression_folds",
    "ridge_predict",
    "ridge_r2",
    "rotated_copies",
]


def folds(
    labels: np.ndarray, n_folds: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index pairs; fewer folds when the smallest class is small.

    Raises
    ------
    ValueError
        With fewer than two classes, or a class with a single member.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError("need at least two classes to score a classifier")
    n_folds = min(n_folds, int(counts.min()))
    if n_folds < 2:
        rare = classes[counts.argmin()]
        raise ValueError(f"class '{rare}' has one member; each class needs at least two")
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def knn_predict(
    train: np.ndarray, train_labels: np.ndarray, query: np.ndarray, k: int = 10
) -> np.ndarray:
    """Majority vote of the k most cosine-similar training vectors (ties: summed similarity)."""
    centre = train.mean(axis=0)
    similarity = normalise(query - centre) @ normalise(train - centre).T
    k = min(k, len(train))
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    classes, coded = np.unique(train_labels, return_inverse=True)
    votes = np.zeros((len(query), len(classes)))
    rows = np.arange(len(query))[:, None]
    np.add.at(votes, (rows, coded[nearest]), 1.0 + 1e-6 * similarity[rows, nearest])
    return classes[votes.argmax(axis=1)]


def knn_accuracy(
    embeddings: np.ndarray, labels: np.ndarray, k: int = 10, n_folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated k-NN accuracy (cosine, k = 10, stratified 5-fold)."""
    labels = np.asarray(labels)
    correct = 0
    for train, test in folds(labels, n_folds, seed):
        predicted = knn_predict(embeddings[train], labels[train], embeddings[test], k)
        correct += int((predicted == labels[test]).sum())
    return correct / len(labels)


def fit_linear_probe(embeddings: np.ndarray, labels: np.ndarray):
    """A logistic regression on standardised embeddings, fitted (scikit-learn pipeline)."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return probe.fit(embeddings, labels)


def linear_probe_accuracy(
    embeddings: np.ndarray, labels: np.ndarray, n_folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated accuracy of a logistic regression on the standardised embedding."""
    labels = np.asarray(labels)
    correct = 0
    for train, test in folds(labels, n_folds, seed):
        probe = fit_linear_probe(embeddings[train], labels[train])
        correct += int((probe.predict(embeddings[test]) == labels[test]).sum())
    return correct / len(labels)


def label_silhouette(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score (cosine) of the given grouping: 1 compact and apart, 0 overlapping."""
    labels = np.asarray(labels)
    if not 2 <= len(np.unique(labels)) < len(labels):
        return float("nan")
    return float(silhouette_score(normalise(embeddings), labels, metric="cosine"))


def cluster_agreement(clusters: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Adjusted Rand index and normalised mutual information of clusters against labels."""
    return {
        "ari": float(adjusted_rand_score(labels, clusters)),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
    }


def regression_folds(
    n_objects: int, n_folds: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled (train, test) index pairs for scoring a regression."""
    splitter = KFold(n_splits=min(n_folds, n_objects), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n_objects)))


def ridge_predict(
    train_embeddings: np.ndarray, train_values: np.ndarray, test_embeddings: np.ndarray
) -> np.ndarray:
    """Fit a ridge regression (penalty chosen by internal cross-validation) and predict.

    Features that barely vary over the training objects (dead units, directions the
    whitening left near zero) are dropped: standardising would blow them up, and the
    held-out objects' stray values in them with them.
    """
    spread = train_embeddings.std(axis=0)
    varies = spread > 1e-3 * spread.max()
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15)))
    model.fit(train_embeddings[:, varies], train_values)
    return model.predict(test_embeddings[:, varies])


def ridge_r2(embeddings: np.ndarray, values: np.ndarray, n_folds: int = 5, seed: int = 0) -> float:
    """Cross-validated R² of a ridge regression (penalty chosen inside each fold)."""
    values = np.asarray(values, dtype=float)
    predicted = np.empty_like(values)
    for train, test in regression_folds(len(values), n_folds, seed):
        predicted[test] = ridge_predict(embeddings[train], values[train], embeddings[test])
    return float(r2_score(values, predicted))


def axis_spearman(coordinates: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Spearman rank correlation of a parameter with the map's x and y axes."""
    values = np.asarray(values, dtype=float)
    rho = [stats.spearmanr(coordinates[:, axis], values).statistic for axis in (0, 1)]
    return float(rho[0]), float(rho[1])


@dataclass
class Invariance:
    """Mean cosine similarity of objects with their own copies and with other objects."""

    same: float  # object against its rotated / flipped copies
    different: float  # object against other objects
    rotations: float  # object against its copies rotated by a random angle
    flips: float  # object against its mirror images

    @property
    def score(self) -> float:
        """(same - different) / (1 - different): 1 fully invariant, 0 no better than chance."""
        return (self.same - self.different) / max(1.0 - self.different, 1e-12)


def rotated_copies(
    arrays: Sequence[np.ndarray], seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each (C, H, W) object rotated by a random angle (edges reflected), and mirrored."""
    rng = np.random.default_rng(seed)
    rotated = [
        ndimage.rotate(
            a, rng.uniform(15, 345), axes=(-1, -2), reshape=False, order=1, mode="reflect"
        )
        for a in arrays
    ]
    flipped = [
        np.ascontiguousarray(a[..., ::-1] if i % 2 else a[..., ::-1, :])
        for i, a in enumerate(arrays)
    ]
    return rotated, flipped


def orientation_invariance(
    embed: Callable[[Sequence[np.ndarray]], np.ndarray],
    arrays: Sequence[np.ndarray],
    centre: np.ndarray | None = None,
    seed: int = 0,
) -> Invariance:
    """Compare each object's embedding with those of its rotated and mirrored copies.

    Parameters
    ----------
    embed : callable
        Maps a list of preprocessed (C, H, W) arrays to (N, D) embeddings.
    arrays : sequence of ndarray
        The objects (a sample of a few hundred is plenty).
    centre : ndarray, optional
        Subtracted before the cosine (default: the mean embedding of ``arrays``), so that
        a shared offset does not make every pair look alike.
    """
    if len(arrays) < 2:
        raise ValueError("need at least two objects to compare orientation invariance")
    rotated, flipped = rotated_copies(arrays, seed)
    original, turned, mirrored = (
        np.asarray(embed(list(group))) for group in (arrays, rotated, flipped)
    )
    centre = original.mean(axis=0) if centre is None else centre
    original, turned, mirrored = (normalise(v - centre) for v in (original, turned, mirrored))
    rotations = float(np.mean(np.sum(original * turned, axis=1)))
    flips = float(np.mean(np.sum(original * mirrored, axis=1)))
    similarity = original @ original.T
    off_diagonal = similarity[~np.eye(len(original), dtype=bool)]
    return Invariance((rotations + flips) / 2, float(off_diagonal.mean()), rotations, flips)
