"""Catalogues: read CSV, ECSV, FITS and VOTable tables, and match their rows to objects.

A catalogue row is matched to an object, in this order of preference:

1. an explicit pair of columns, ``TABLE_COLUMN=CATALOGUE_COLUMN``;
2. the sky position, within a radius (3 arcsec unless given);
3. the object's OBJECT name, compared without case, spaces or underscores;
4. the object's file name without its FITS suffix, compared the same way.

Without an explicit pair, the way that matches the most objects is used, and of ways that
match as many, the earlier one: rounded catalogue positions then lose to exact names.
Unmatched objects, and objects that several catalogue rows claim, are counted.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from morphospace.errors import InputError
from morphospace.io.sources import object_id

__all__ = [
    "DEC_NAMES",
    "GLAT_NAMES",
    "GLON_NAMES",
    "MATCH_RADIUS",
    "RA_NAMES",
    "CatalogueJoin",
    "CatalogueMatch",
    "catalogue_frame",
    "catalogue_positions",
    "find_column",
    "match_catalogue",
    "normalise_name",
    "parse_join_on",
    "read_catalogue",
    "sky_coords",
]

MATCH_RADIUS = 3.0  # arcsec: about a beam of the radio and sub-mm surveys we serve

RA_NAMES = ("ra", "raj2000", "_raj2000", "ra_deg", "ra_icrs", "radeg", "alpha")
DEC_NAMES = (
    "dec", "dej2000", "_dej2000", "decj2000", "dec_deg", "de_icrs", "dec_icrs", "dedeg", "delta",
)  # fmt: skip
GLON_NAMES = ("glon", "l", "_glon")
GLAT_NAMES = ("glat", "b", "_glat")

_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".tsv": "ascii.tab"}


def read_catalogue(path: str | Path) -> Table:
    """A catalogue as an astropy Table: CSV, ECSV, FITS table or VOTable (by its suffix)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such catalogue file")
    suffix = next((s for s in _FORMATS if path.name.lower().endswith(s)), None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit and VOTable-version chatter
            table = Table.read(path, format=_FORMATS[suffix]) if suffix else Table.read(path)
    except Exception as exc:
        raise InputError(path, f"cannot read the catalogue ({_short(exc)})") from None
    if len(table) == 0:
        raise InputError(path, "the catalogue has no rows")
    return table


def catalogue_frame(table: Table) -> pd.DataFrame:
    """The catalogue's one-value-per-cell columns as a DataFrame (array columns are left out)."""
    flat = [name for name in table.colnames if table[name].ndim == 1]
    frame = table[flat].to_pandas() if flat else pd.DataFrame(index=range(len(table)))
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return frame.reset_index(drop=True)


def find_column(table: Table, candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` that names a column, compared without case."""
    lower = {name.lower(): name for name in table.colnames}
    return next((lower[c] for c in candidates if c in lower), None)


def sky_coords(lon_col, lat_col, frame: str, catalogue: str | Path) -> SkyCoord:
    """Positions from two columns: numbers in their unit (degrees when none), or sexagesimal
    text (RA in hours for equatorial frames unless marked ``d``)."""
    lon, lat = np.asarray(lon_col), np.asarray(lat_col)
    try:
        if lon.dtype.kind in "USO" or lat.dtype.kind in "USO":
            lon, lat = lon.astype(str), lat.astype(str)
            in_hours = frame.lower() in ("icrs", "fk5", "fk4") and not any("d" in v for v in lon)
            return SkyCoord(lon, lat, unit=(u.hourangle if in_hours else u.deg, u.deg), frame=frame)
        lon_unit = getattr(lon_col, "unit", None) or u.deg
        lat_unit = getattr(lat_col, "unit", None) or u.deg
        return SkyCoord(lon * u.Unit(lon_unit), lat * u.Unit(lat_unit), frame=frame)
    except Exception as exc:
        raise InputError(catalogue, f"cannot read sky positions ({_short(exc)})") from None


def catalogue_positions(table: Table, catalogue: str | Path) -> SkyCoord | None:
    """The catalogue's sky positions in ICRS, from RA/Dec or Galactic columns; None if none."""
    ra, dec = find_column(table, RA_NAMES), find_column(table, DEC_NAMES)
    frame = "icrs"
    if ra is None or dec is None:
        ra, dec, frame = find_column(table, GLON_NAMES), find_column(table, GLAT_NAMES), "galactic"
    if ra is None or dec is None:
        return None
    return sky_coords(table[ra], table[dec], frame, catalogue).icrs


def normalise_name(value: object) -> str:
    """A name compared without case, spaces or underscores: ``SDC 30.331-0.320`` is
    ``sdc_30.331-0.320``."""
    return re.sub(r"[\s_]+", "", str(value)).lower()


@dataclass
class CatalogueMatch:
    """Which catalogue row belongs to each object, and how they were matched.

    ``rows[i]`` is the catalogue row of object ``i``, or -1 where none matched.
    """

    rows: np.ndarray
    method: str
    ambiguous: int = 0

    @property
    def matched(self) -> int:
        """Objects with a catalogue row."""
        return int((self.rows >= 0).sum())

    @property
    def unmatched(self) -> int:
        """Objects without one."""
        return int((self.rows < 0).sum())

    def summary(self, catalogue: str | Path) -> str:
        """One line: how many matched, by what, and how many did not."""
        line = (
            f"{catalogue}: {self.matched} of {len(self.rows)} objects matched by {self.method}; "
            f"{self.unmatched} unmatched"
        )
        return line + (f", {self.ambiguous} ambiguous (nearest used)" if self.ambiguous else "")


@dataclass(frozen=True)
class CatalogueJoin:
    """A catalogue to join to objects: its file, and how its rows are matched to them.

    Parameters
    ----------
    path : path
        CSV, ECSV, FITS table or VOTable.
    on : str, optional
        ``TABLE_COLUMN=CATALOGUE_COLUMN`` to match on those columns alone.
    radius : float
        Largest separation of a sky match, arcsec.
    """

    path: Path
    on: str | None = None
    radius: float = MATCH_RADIUS

    @classmethod
    def of(cls, join: str | Path | CatalogueJoin | None) -> CatalogueJoin | None:
        """A join from a file name (matched the default way), or the join itself."""
        if join is None or isinstance(join, CatalogueJoin):
            return join
        return cls(Path(join))

    @cached_property
    def _contents(self) -> tuple[Table, pd.DataFrame]:
        """The catalogue and its one-value-per-cell columns, read once per join."""
        table = read_catalogue(self.path)
        return table, catalogue_frame(table)

    def columns(self) -> list[str]:
        """The catalogue's columns."""
        return list(self._contents[1].columns)

    def match(self, objects: pd.DataFrame) -> tuple[pd.DataFrame, CatalogueMatch]:
        """The catalogue's columns with one row per object (empty where none matched), and
        how they were matched."""
        table, frame = self._contents
        found = _match(objects, table, frame, self.path, self.on, self.radius)
        return frame.reindex(found.rows).reset_index(drop=True), found


def parse_join_on(spec: str | None) -> tuple[str, str] | None:
    """``TABLE_COLUMN=CATALOGUE_COLUMN`` as its two names (a single name means both)."""
    if spec is None:
        return None
    left, sep, right = spec.partition("=")
    left, right = left.strip(), (right.strip() if sep else left.strip())
    if not left or not right:
        raise InputError("--join-on", f"give TABLE_COLUMN=CATALOGUE_COLUMN, not {spec!r}")
    return left, right


def match_catalogue(
    objects: pd.DataFrame,
    table: Table,
    catalogue: str | Path,
    *,
    on: str | None = None,
    radius: float = MATCH_RADIUS,
) -> CatalogueMatch:
    """Match catalogue rows to objects (the rows of an embedding table or inventory).

    Parameters
    ----------
    objects : DataFrame
        One row per object, with ``id`` and, where known, ``object``, ``ra`` and ``dec``
        (degrees, ICRS).
    table : Table
        The catalogue (:func:`read_catalogue`).
    catalogue : path
        Its file, named in messages.
    on : str, optional
        ``TABLE_COLUMN=CATALOGUE_COLUMN``: match on these columns only.
    radius : float
        Largest separation of a sky match, arcsec.

    Raises
    ------
    InputError
        When no catalogue row matches any object, or a named column does not exist.
    """
    return _match(objects, table, catalogue_frame(table), catalogue, on, radius)


def _match(
    objects: pd.DataFrame,
    table: Table,
    frame: pd.DataFrame,
    catalogue: str | Path,
    on: str | None,
    radius: float,
) -> CatalogueMatch:
    if radius <= 0:
        raise InputError("--match-radius", f"must be positive, got {radius}")
    pair = parse_join_on(on)
    if pair is not None:
        found = [_by_columns(objects, frame, *pair, catalogue)]
    else:
        found = []
        for attempt in (_by_sky, _by_object_name, _by_file_name):
            match = attempt(objects, table, frame, catalogue, radius)
            if match is not None:
                found.append(match)
                if match.unmatched == 0:  # no later way can do better
                    break
    best = max(found, key=lambda m: m.matched, default=None)  # the first of the best
    if best is None or best.matched == 0:
        tried = (
            f"column {pair[0]}={pair[1]}" if pair else "sky positions, OBJECT names and file names"
        )
        raise InputError(catalogue, f"no row matches any of the {len(objects)} objects "
                                    f"(tried {tried})")  # fmt: skip
    return best


def _by_columns(
    objects: pd.DataFrame, frame: pd.DataFrame, left: str, right: str, catalogue: str | Path
) -> CatalogueMatch:
    if left not in objects.columns:
        raise InputError("--join-on", f"the objects have no column {left!r}")
    if right not in frame.columns:
        columns = ", ".join(list(frame.columns)[:12])
        raise InputError(catalogue, f"has no column {right!r} (columns: {columns})")
    return _by_keys(objects[left], frame[right], f"column {left}={right}")


def _by_keys(keys: pd.Series, values: pd.Series, method: str) -> CatalogueMatch:
    """Rows whose normalised value equals an object's normalised key (the first of equals)."""
    first: dict[str, int] = {}
    repeated = set()
    for row, value in enumerate(_names(values)):
        if value in first:
            repeated.add(value)
        elif value:
            first[value] = row
    wanted = _names(keys)
    rows = np.array([first.get(k, -1) for k in wanted], dtype=np.int64)
    return CatalogueMatch(rows, method, sum(1 for k in wanted if k in repeated))


def _names(values: pd.Series) -> list[str]:
    """Normalised names; "" where a value is missing."""
    return ["" if _missing(v) else normalise_name(v) for v in values.tolist()]


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _by_sky(objects, table, frame, catalogue, radius) -> CatalogueMatch | None:
    if "ra" not in objects.columns or "dec" not in objects.columns:
        return None
    ra = pd.to_numeric(objects["ra"], errors="coerce").to_numpy(float)
    dec = pd.to_numeric(objects["dec"], errors="coerce").to_numpy(float)
    placed = np.isfinite(ra) & np.isfinite(dec)
    if not placed.any():
        return None
    positions = catalogue_positions(table, catalogue)
    if positions is None:
        return None
    known = np.isfinite(positions.ra.deg) & np.isfinite(positions.dec.deg)
    if not known.any():
        return None
    usable = np.flatnonzero(known)
    here = SkyCoord(ra[placed] * u.deg, dec[placed] * u.deg)
    nearest, separation, _ = here.match_to_catalog_sky(positions[usable])
    close = separation.arcsec <= radius
    rows = np.full(len(objects), -1, dtype=np.int64)
    rows[np.flatnonzero(placed)[close]] = usable[nearest[close]]
    # an object is ambiguous when another catalogue row also lies within the radius
    found, _, _, _ = positions[usable].search_around_sky(here, radius * u.arcsec)
    ambiguous = int((np.bincount(found, minlength=len(here)) > 1).sum())
    return CatalogueMatch(rows, f"sky position (within {radius:g} arcsec)", ambiguous)


def _by_object_name(objects, table, frame, catalogue, radius) -> CatalogueMatch | None:
    if "object" not in objects.columns or objects["object"].isna().all():
        return None
    return _best_column(objects["object"], frame, "OBJECT name")


def _by_file_name(objects, table, frame, catalogue, radius) -> CatalogueMatch | None:
    return _best_column(objects["id"].astype(str), frame, "file name", object_id)


def _best_column(keys: pd.Series, frame: pd.DataFrame, what: str, clean=None) -> CatalogueMatch:
    """The match through whichever catalogue column names the most objects."""
    best = CatalogueMatch(np.full(len(keys), -1, dtype=np.int64), what)
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f":  # real numbers name nothing
            continue
        if clean is not None:
            values = pd.Series([v if _missing(v) else clean(str(v)) for v in values.tolist()])
        match = _by_keys(keys, values, f"{what} (column {column})")
        if match.matched > best.matched:
            best = match
    return best


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
