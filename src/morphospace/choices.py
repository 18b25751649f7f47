"""Choices and defaults shared by several layers and the command line, declared once.

Each choice is a ``Literal`` type, its allowed values and its default; :func:`check_choice`
is the one check of a value against them, with the one kind of error (:class:`InputError`).
Kept free of heavy imports, so that ``morphospace --help`` shows them without loading
astropy or torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar, get_args

from morphospace.errors import InputError

__all__ = [
    "COLOUR_MAP",
    "COLOUR_MAPS",
    "DENSITY_FROM",
    "DEVICE",
    "EMBED_BATCH_SIZE",
    "FIT_SAMPLE",
    "INTERVAL",
    "INTERVALS",
    "MAP_METHOD",
    "MAP_METHODS",
    "MIN_SIDE",
    "ON_ERROR",
    "ON_ERROR_CHOICES",
    "PAGE_OBJECTS",
    "PARTITION_ROWS",
    "PROPAGATE_METHOD",
    "PROPAGATE_METHODS",
    "RERANK_EVERY",
    "SHARD_ROWS",
    "STRETCH",
    "STRETCHES",
    "SUGGEST",
    "TRIAGE_ORDER",
    "TRIAGE_ORDERS",
    "ColourMap",
    "Interval",
    "MapMethod",
    "OnError",
    "PropagateMethod",
    "Stretch",
    "TriageOrder",
    "check_choice",
]

#: What to do with a file that cannot be used: list it and go on, or stop at it.
OnError = Literal["skip", "fail"]
ON_ERROR_CHOICES: tuple[str, ...] = get_args(OnError)
#: Reading for training, embedding or inspection lists bad files and goes on.
ON_ERROR: OnError = "skip"

#: Objects smaller than this on either side cannot pass through the backbones' pooling.
MIN_SIDE = 16

#: Objects per forward pass when embedding.
EMBED_BATCH_SIZE = 256

#: An embedding of more objects than this is written as a sharded table of this many
#: objects a shard, each shard in place as soon as it is done (a stopped embedding
#: resumes at the first shard missing).
SHARD_ROWS = 100_000
#: On a Dask cluster, each task of a worker embeds this many objects into a shard of its
#: own: tens of seconds of work per core, so the scheduling (milliseconds a task) is lost
#: in it and a worker that dies costs little to redo.
PARTITION_ROWS = 10_000

#: Where the network runs: ``auto`` is the first CUDA GPU when one is visible, else the CPU;
#: or any torch device (``cpu``, ``cuda``, ``cuda:1``, …).
DEVICE = "auto"

#: The 2-D map of the embeddings: UMAP, t-SNE (openTSNE) or PCA.
MapMethod = Literal["umap", "tsne", "pca"]
MAP_METHODS: tuple[str, ...] = get_args(MapMethod)
MAP_METHOD: MapMethod = "umap"
#: The map, the clusters and the anomaly detectors of a larger table are fitted on a seeded
#: random sample of this many objects; every other object is then placed on the map, put
#: in its clusters and scored by the fitted models, in chunks.
FIT_SAMPLE = 100_000
#: From this many objects the explorer's map shows, while more than a tenth as many are in
#: view, the density of the objects under faint points (aggregated by datashader on the
#: server); zoomed in further, the points and their thumbnails.
DENSITY_FROM = 2_000_000
#: The report's page and figures show at most this many objects, each with its thumbnail:
#: a larger table is shown by a seeded random sample of them that holds its most anomalous
#: objects (``morphospace explore`` shows every object, its thumbnail made when asked).
PAGE_OBJECTS = 10_000

#: How labels are propagated: ``auto`` picks the classifier with the higher
#: cross-validated accuracy; and how many unlabelled objects are suggested next.
PropagateMethod = Literal["auto", "logistic", "knn"]
PROPAGATE_METHODS: tuple[str, ...] = get_args(PropagateMethod)
PROPAGATE_METHOD: PropagateMethod = "auto"
SUGGEST = 20

#: The order triage shows objects in: the anomaly score, the anomaly score re-ranked by the
#: user's marks (again every :data:`RERANK_EVERY` marks), the objects whose propagated label
#: is least certain first, or a random order.
TriageOrder = Literal["anomaly", "reranked", "uncertain", "random"]
TRIAGE_ORDERS: tuple[str, ...] = get_args(TriageOrder)
TRIAGE_ORDER: TriageOrder = "reranked"
RERANK_EVERY = 5

#: How the object view maps pixel values to brightness (astropy.visualization's stretches),
#: over which range of values (a percentile, the whole range, or IRAF's zscale), and in
#: which matplotlib colour map.
Stretch = Literal["linear", "sqrt", "log", "asinh"]
STRETCHES: tuple[str, ...] = get_args(Stretch)
STRETCH: Stretch = "asinh"
Interval = Literal["99.5%", "minmax", "zscale"]
INTERVALS: tuple[str, ...] = get_args(Interval)
INTERVAL: Interval = "99.5%"
ColourMap = Literal["inferno", "gray", "viridis", "magma", "cubehelix", "coolwarm"]
COLOUR_MAPS: tuple[str, ...] = get_args(ColourMap)
COLOUR_MAP: ColourMap = "inferno"

Choice = TypeVar("Choice", bound=str)


def check_choice(option: str, value: Choice, allowed: Iterable[str]) -> Choice:
    """``value`` when it is one of ``allowed``; else an :class:`InputError` naming ``option``
    (``--map: unknown map 'isomap'; choose one of umap, tsne, pca``)."""
    allowed = tuple(allowed)
    if value not in allowed:
        what = option.lstrip("-").replace("-", " ")
        raise InputError(option, f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    return value
