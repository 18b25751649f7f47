"""Cutout stacks: many objects of one size in one file, with a table of ids and positions.

Surveys hand out their cutouts this way, not as a million files. Two forms are read:

- **HDF5** (``.h5``, ``.hdf5``), as FIRST, Galaxy10 and ssl-legacysurvey ship theirs: a
  dataset ``images`` of shape (N, H, W), (N, C, H, W) or, with C ≤ 4 last,
  (N, H, W, C); beside it, 1-D datasets of length N are the table (``id`` or ``name``,
  ``ra``/``dec`` in degrees, …). File attributes ``pixel_scale`` (arcsec) and ``bunit``
  apply to every object.
- **FITS**: an image HDU of shape (N, H, W) or (N, C, H, W) followed by a binary table of
  N rows (``id``, ``ra``, ``dec``, …); the image header's pixel scale and ``BUNIT`` apply
  to every object. A 3-D image without such a table is a spectral cube, not a stack.

An object of a stack is addressed ``STACK#INDEX`` (0-based) wherever a file path goes: the
sources of a run, the ``path`` column of its table, a file list. :func:`read_stack_object`
reads one; a stack's handle stays open in each process, so reading its objects one after
another costs a slice of the array, not an open. Objects with a sky position get a
tangent-plane WCS centred on it, with the stack's pixel scale, north up and east left.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from morphospace.choices import MIN_SIDE
from morphospace.errors import InputError
from morphospace.io._pages import PageBudget
from morphospace.io.fits import ImageMeta, SkyImage, read_fits

__all__ = [
    "HDF5_SUFFIXES",
    "Stack",
    "is_stack",
    "open_stack",
    "read_object",
    "read_stack_object",
    "split_address",
    "stack_addresses",
]

HDF5_SUFFIXES = (".h5", ".hdf5", ".he5")
_ID_NAMES = ("id", "name", "object", "source_id", "objid", "designation")
_RA_NAMES = ("ra", "raj2000", "ra_deg", "ra_icrs")
_DEC_NAMES = ("dec", "dej2000", "decj2000", "dec_deg", "de_icrs", "dec_icrs")
_ADDRESS = re.compile(r"^(?P<file>.+)#(?P<index>\d+)$")


def split_address(path: str | Path) -> tuple[Path, int] | None:
    """``(stack file, index)`` of an object address ``STACK#INDEX``; None for a plain path
    (or a file whose name merely holds ``#``)."""
    text = str(path)
    found = _ADDRESS.match(text)
    if found is None or os.path.exists(text):
        return None
    return Path(found["file"]), int(found["index"])


@dataclass(frozen=True)
class Stack:
    """What a stack file holds: N objects of one shape, and their table.

    Attributes
    ----------
    path : Path
    n : int
        Objects.
    shape : tuple of int
        One object's shape: (H, W) or (C, H, W).
    columns : dict of str to ndarray
        The table: each column has N values.
    pixel_scale : float or None
        Arcsec per pixel, for every object.
    bunit : str or None
    form : str
        ``"HDF5"``, ``"FITS"`` or ``"map"`` (a map cut by a catalogue as it is read,
        :func:`~morphospace.io.cutouts.catalogue_stack`).
    """

    path: Path
    n: int
    shape: tuple[int, ...]
    columns: dict[str, np.ndarray]
    pixel_scale: float | None
    bunit: str | None
    form: str

    @cached_property
    def ids(self) -> list[str]:
        """Each object's id: the table's id column, else ``STEM_INDEX``."""
        column = _find(self.columns, _ID_NAMES)
        if column is not None:
            return [_text(v) for v in self.columns[column]]
        width = len(str(max(self.n - 1, 0)))
        return [f"{self.path.stem}_{i:0{width}d}" for i in range(self.n)]

    def positions(self) -> tuple[np.ndarray, np.ndarray] | None:
        """RA and Dec (degrees) of every object, or None when the table has none."""
        return self._positions

    @cached_property
    def _positions(self) -> tuple[np.ndarray, np.ndarray] | None:
        ra, dec = _find(self.columns, _RA_NAMES), _find(self.columns, _DEC_NAMES)
        if ra is None or dec is None:
            return None
        return self.columns[ra].astype(float), self.columns[dec].astype(float)

    def describe(self) -> str:
        """One line for ``inspect``."""
        size = "x".join(str(n) for n in self.shape[::-1][:2][::-1])
        channels = self.shape[0] if len(self.shape) == 3 else 1
        has = ["ids" if _find(self.columns, _ID_NAMES) else "no ids (numbered)"]
        has.append("positions" if self.positions() is not None else "no positions")
        scale = f", {self.pixel_scale:g} arcsec/px" if self.pixel_scale else ""
        if self.form == "map":
            return f"{self.n} objects cut from a map as they are read, {size} px{scale}"
        return (
            f"{self.form} stack of {self.n} objects of {size} px, {channels} channel"
            f"{'s' if channels > 1 else ''}{scale}; {', '.join(has)}"
        )


def is_stack(path: str | Path) -> bool:
    """Whether ``path`` is a stack file (HDF5 by its suffix; FITS by an image of N objects
    followed by a table of N rows)."""
    path = Path(path)
    if path.suffix.lower() in HDF5_SUFFIXES:
        return True
    try:
        return _open(str(path), os.getpid())[0].form == "FITS"
    except InputError:
        return False


def stack_addresses(path: str | Path) -> list[Path]:
    """The address of every object of a stack, in its order."""
    stack = open_stack(path)
    return [Path(f"{stack.path}#{i}") for i in range(stack.n)]


def open_stack(path: str | Path) -> Stack:
    """The stack in ``path``, checked; a bad form is one :class:`InputError` line."""
    return _open(str(path), os.getpid())[0]


def read_object(
    path: str | Path, hdu: int | str | None = None, min_side: int = MIN_SIDE
) -> SkyImage:
    """One object: a FITS file's image (:func:`~morphospace.io.read_fits`, HDU ``hdu``) or
    the object a stack address ``STACK#INDEX`` names."""
    address = split_address(path)
    if address is None:
        return read_fits(path, hdu=hdu, min_side=min_side)
    return read_stack_object(*address, min_side=min_side)


def read_stack_object(path: Path, index: int, min_side: int = MIN_SIDE) -> SkyImage:
    """Object ``index`` of the stack in ``path``, as :func:`~morphospace.io.read_fits`
    gives a file's image."""
    stack, pixels = _open(str(path), os.getpid())
    address = f"{path}#{index}"
    if not 0 <= index < stack.n:
        raise InputError(address, f"no such object: the stack holds {stack.n} (0-{stack.n - 1})")
    corner = None
    if isinstance(pixels, _MapWindows):
        raw, corner = pixels.window(index)
        data = raw.squeeze(0) if raw.ndim == 3 and raw.shape[0] == 1 else raw
    else:
        data = np.array(_object_pixels(pixels, index, stack), dtype=np.float32, order="C")
        _pages(str(path), os.getpid()).spend_rows(1, data.nbytes)
    mask = ~np.isfinite(data)
    data[mask] = np.nan
    if mask.all():
        raise InputError(address, "all pixels are blank (NaN or inf)")
    height, width = data.shape[-2:]
    if min(height, width) < min_side:
        raise InputError(
            address, f"image is {width}x{height} px, below the minimum of {min_side} px per side"
        )
    ra = dec = None
    found = stack.positions()
    if found is not None and np.isfinite(found[0][index]) and np.isfinite(found[1][index]):
        ra, dec = float(found[0][index]), float(found[1][index])
    meta = ImageMeta(
        path=address,
        hdu=0,
        hdu_name=stack.form,
        shape=tuple(int(n) for n in data.shape),
        object=stack.ids[index],
        ra=ra,
        dec=dec,
        bunit=stack.bunit,
        pixel_scale=stack.pixel_scale,
        nan_fraction=float(mask.mean()),
    )
    if corner is not None:  # the map's WCS moved to the window, made when first asked for
        image = _WindowImage(data=data, mask=mask, meta=meta)
        image.map_wcs, image.corner = pixels.wcs, corner
        return image
    wcs = _tangent_wcs(ra, dec, stack.pixel_scale, width, height) if ra is not None else None
    return SkyImage(data=data, mask=mask, meta=meta, wcs=wcs)


class _WindowImage(SkyImage):
    """An object cut from a map: its WCS is the map's, moved to the window, made only when
    asked for (the copy costs more than the cut itself)."""

    map_wcs: Any = None
    corner: tuple[int, int] = (0, 0)

    @property  # type: ignore[override]
    def wcs(self):
        made = self.__dict__.get("_wcs")
        if made is None and self.map_wcs is not None:
            made = self.map_wcs.deepcopy()
            made.wcs.crpix = made.wcs.crpix - list(self.corner)
            self.__dict__["_wcs"] = made
        return made

    @wcs.setter
    def wcs(self, value) -> None:
        self.__dict__["_wcs"] = value


# --- reading -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _open(path: str, pid: int) -> tuple[Stack, Any]:
    """The stack and its pixel array (an h5py dataset or a memory map), kept open in this
    process (``pid`` keys the cache: a forked worker opens its own)."""
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    if Path(path).suffix.lower() in HDF5_SUFFIXES:
        return _open_hdf5(Path(path))
    return _open_fits(Path(path))


@lru_cache(maxsize=8)
def _pages(path: str, pid: int) -> PageBudget:
    """What this process has read of a memory-mapped stack (a FITS one), given back to the
    kernel as it goes."""
    return PageBudget(_open(path, pid)[1])


def _open_hdf5(path: Path) -> tuple[Stack, Any]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(path, f"not a readable HDF5 file ({exc})") from None
    if "images" not in handle and "map" not in handle.attrs:
        found = ", ".join(sorted(handle.keys())[:8]) or "nothing"
        raise InputError(path, f"has no 'images' dataset (it holds {found})")
    if "map" in handle.attrs:
        return _open_map_index(path, handle)
    images = handle["images"]
    shape = _object_shape(path, images.shape)
    columns = {}
    for name, item in handle.items():
        if name == "images" or not isinstance(item, h5py.Dataset) or item.ndim != 1:
            continue
        if item.shape[0] != images.shape[0]:
            raise InputError(
                path, f"holds {images.shape[0]} images but its column {name!r} has "
                f"{item.shape[0]} values"
            )  # fmt: skip
        columns[name] = item[()]
    attrs = handle.attrs
    scale = float(attrs["pixel_scale"]) if "pixel_scale" in attrs else None
    bunit = _text(attrs["bunit"]) if "bunit" in attrs else None
    return Stack(path, int(images.shape[0]), shape, columns, scale, bunit, "HDF5"), images


class _MapWindows:
    """The objects of a map cut by a catalogue: each a window of the memory-mapped map,
    padded with NaN where it crosses the edge, and the map's WCS moved to the window.
    The pages of the map that the windows touch are given back as they pile up."""

    def __init__(self, data: Any, wcs: Any, x: np.ndarray, y: np.ndarray, side: np.ndarray):
        self.data, self.wcs, self.x, self.y, self.side = data, wcs, x, y, side
        self.pages = PageBudget(data)

    def _slices(self, index: int):
        from astropy.nddata.utils import overlap_slices

        side = int(self.side[index])
        return overlap_slices(
            self.data.shape[-2:], (side, side), (self.y[index], self.x[index]), mode="partial"
        )

    def __getitem__(self, index: int) -> np.ndarray:
        return self.window(index)[0]

    def window(self, index: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The object's pixels and the map pixel (x, y) of their corner."""
        large, small = self._slices(index)
        side = int(self.side[index])
        out = np.full((*self.data.shape[:-2], side, side), np.nan, dtype=np.float32)
        out[(..., *small)] = self.data[(..., *large)]
        self.pages.spend_rows(out.size // side, side * out.itemsize)  # rows a map row apart
        return out, (large[1].start - small[1].start, large[0].start - small[0].start)


def _open_map_index(path: Path, handle: Any) -> tuple[Stack, Any]:
    from astropy.io import fits
    from astropy.wcs import WCS

    attrs = handle.attrs
    source = _text(attrs["map"])
    try:
        hdul = fits.open(source, memmap=True)
        chosen = hdul[int(attrs["map_hdu"])]
        data = chosen.data
    except Exception as exc:
        raise InputError(path, f"cannot read its map {source} ({exc})") from None
    columns = {name: handle[name][()] for name in ("id", "ra", "dec")}
    x, y, side = (handle[name][()] for name in ("x", "y", "side"))
    try:
        celestial = WCS(chosen.header).celestial
        wcs = celestial if celestial.has_celestial else None
    except Exception:
        wcs = None
    n = len(side)
    shape = (*data.shape[:-2], int(side[0]), int(side[0])) if n else (0, 0)
    scale = float(attrs["pixel_scale"]) if "pixel_scale" in attrs else None
    bunit = _text(attrs["bunit"]) if "bunit" in attrs else None
    stack = Stack(path, n, tuple(shape), columns, scale, bunit, "map")
    return stack, _MapWindows(data, wcs, x, y, side)


def _open_fits(path: Path) -> tuple[Stack, Any]:
    from astropy.io import fits
    from astropy.table import Table

    try:
        hdul = fits.open(path, memmap=True)
    except Exception as exc:
        raise InputError(path, f"not a readable FITS file ({exc})") from None
    image = next((h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 3), None)
    table = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
    if image is None or table is None:
        raise InputError(path, "is not a stack: it needs an N-object image and a table of N rows")
    n = int(image.header[f"NAXIS{image.header['NAXIS']}"])
    if table.header["NAXIS2"] != n:
        raise InputError(path, f"holds {n} images but its table has {table.header['NAXIS2']} rows")
    shape = _object_shape(path, image.shape)
    rows = Table.read(table)
    columns = {name: np.asarray(rows[name]) for name in rows.colnames if rows[name].ndim == 1}
    header = image.header
    scale = None
    for key in ("CDELT2", "CD2_2"):
        if key in header:
            scale = abs(float(header[key])) * 3600
            break
    bunit = str(header["BUNIT"]).strip() if header.get("BUNIT") else None
    return Stack(path, n, shape, columns, scale, bunit, "FITS"), image.data


def _object_shape(path: Path, shape: tuple[int, ...]) -> tuple[int, ...]:
    """One object's (H, W) or (C, H, W) from the array's shape; a bad shape is refused."""
    if len(shape) == 3:
        return tuple(shape[1:])
    if len(shape) == 4:
        if shape[-1] <= 4 < shape[1]:  # channels last, as Galaxy10 stores them
            return (shape[3], shape[1], shape[2])
        return tuple(shape[1:])
    raise InputError(
        path, f"holds an array of shape {tuple(shape)}: a stack is N x H x W or N x C x H x W"
    )


def _object_pixels(pixels: Any, index: int, stack: Stack) -> np.ndarray:
    data = np.asarray(pixels[index])
    if stack.form == "HDF5" and data.ndim == 3 and data.shape != stack.shape:  # channels last
        data = np.moveaxis(data, -1, 0)
    return data.squeeze(0) if data.ndim == 3 and data.shape[0] == 1 else data


def _tangent_wcs(ra: float, dec: float, scale: float | None, width: int, height: int):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(width + 1) / 2, (height + 1) / 2]
    step = (scale or 1.0) / 3600
    wcs.wcs.cdelt = [-step, step]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs if scale else None


def _find(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> str | None:
    lower = {name.lower(): name for name in columns}
    return next((lower[n] for n in names if n in lower), None)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
