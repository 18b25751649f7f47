"""What a report is made of: the options of ``morphospace report`` (and of the report step
of ``morphospace run``), as one typed object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from morphospace.choices import MAP_METHOD, MAP_METHODS, PAGE_OBJECTS, MapMethod, check_choice
from morphospace.errors import InputError

if TYPE_CHECKING:
    from morphospace.io.catalogue import CatalogueJoin

__all__ = ["NEIGHBOURS", "ReportOptions"]

#: Nearest neighbours of each object that the report's page holds.
NEIGHBOURS = 12


@dataclass(frozen=True)
class ReportOptions:
    """How a report explores a table and what it draws.

    Parameters
    ----------
    map : {"umap", "tsne", "pca"}
        The 2-D map.
    clusters : int, optional
        Number of k-means clusters; chosen by silhouette score when not given.
    colour_by : sequence of str
        Extra columns to colour the maps by (any column of the table or of ``join``).
    join : path or CatalogueJoin, optional
        A catalogue (CSV, ECSV, FITS or VOTable) whose columns are added to the table,
        matched by sky position, OBJECT name or file name (see
        :mod:`morphospace.io.catalogue`).
    tensorboard : bool
        Also write a TensorBoard projector log into the report's ``tensorboard`` folder.
    seed : int
        Seed of the map, the clusters and the anomaly scores.
    neighbours : int
        Nearest neighbours of each object kept in the page.
    workers : int, optional
        Processes that make the thumbnails (all cores by default).
    update_table : bool
        Write the new columns back into the table.
    page_objects : int
        The most objects the page and figures show (a sample of a larger table, with its
        most anomalous objects).
    cluster : str, optional
        A Dask cluster (``local:N`` or ``tcp://HOST:PORT``) whose workers place the objects
        of a large table outside the map's fit sample (and, in ``morphospace run``, embed
        them).
    """

    map: MapMethod = MAP_METHOD
    clusters: int | None = None
    colour_by: Sequence[str] = ()
    join: CatalogueJoin | None = None
    tensorboard: bool = False
    seed: int = 0
    neighbours: int = NEIGHBOURS
    workers: int | None = None
    update_table: bool = True
    page_objects: int = PAGE_OBJECTS
    cluster: str | None = None

    def __post_init__(self) -> None:
        from morphospace.cluster import check_cluster

        check_choice("--map", self.map, MAP_METHODS)
        if self.cluster is not None:
            check_cluster(self.cluster)
        if self.clusters is not None and self.clusters < 1:
            raise InputError("--clusters", f"must be at least 1, not {self.clusters}")
        if self.page_objects < 100:
            raise InputError("--page-objects", f"must be at least 100, not {self.page_objects}")
        object.__setattr__(self, "colour_by", tuple(self.colour_by))
        if isinstance(self.join, str | Path):  # a file: matched the default way
            from morphospace.io.catalogue import CatalogueJoin

            object.__setattr__(self, "join", CatalogueJoin(Path(self.join)))
