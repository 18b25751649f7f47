"""Read one FITS image or cube into a :class:`SkyImage`: float32 data, a blank mask and metadata.

Handles 2-D images, 3-D spectral cubes and 4-D ALMA/CASA cubes whose Stokes axis is
degenerate (or holds a Stokes I plane); ``.fits``, ``.fits.gz`` and tile-compressed ``.fz``
files; BSCALE/BZERO/BLANK; big-endian data. Every failure is an :class:`InputError`
naming the file.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS, WCSSUB_CELESTIAL, Wcsprm
from astropy.wcs.utils import proj_plane_pixel_scales

from morphospace.choices import MIN_SIDE
from morphospace.errors import InputError
from morphospace.io import _fast

__all__ = [
    "FITS_SUFFIXES",
    "MAX_COMPRESSED_PIXELS",
    "MAX_NAXIS",
    "Beam",
    "ImageMeta",
    "SkyImage",
    "SpectralAxis",
    "is_fits_name",
    "read_fits",
]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz")


def is_fits_name(path: str | Path) -> bool:
    """True for FITS-like names: ``.fits``, ``.fit``, ``.fts``, ``.fz``, or those with ``.gz``."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if not suffixes:
        return False
    if suffixes[-1] in FITS_SUFFIXES:
        return True
    return len(suffixes) >= 2 and suffixes[-1] == ".gz" and suffixes[-2] in FITS_SUFFIXES


@dataclass(frozen=True)
class Beam:
    """A Gaussian beam: FWHM major and minor axes in arcsec, position angle in degrees."""

    major: float
    minor: float
    pa: float = 0.0

    @property
    def fwhm(self) -> float:
        """Geometric-mean FWHM in arcsec, the size used for resolution normalisation."""
        return float(np.sqrt(self.major * self.minor))


@dataclass(frozen=True)
class SpectralAxis:
    """The spectral axis of a cube: its WCS type, unit and the world value of each channel."""

    ctype: str
    unit: str
    values: np.ndarray = field(repr=False)
    restfrq: float | None = None  # Hz

    @property
    def step(self) -> float:
        """Channel width in :attr:`unit` (signed, as in the header)."""
        return float(self.values[1] - self.values[0]) if len(self.values) > 1 else 0.0

    def velocities(self) -> np.ndarray:
        """Channel velocities in km/s (radio convention for frequency axes).

        Raises
        ------
        ValueError
            If the axis is in frequency or wavelength and no rest frequency is known,
            or if the axis type cannot be converted to a velocity.
        """
        quantity = self.values * u.Unit(self.unit)
        if quantity.unit.is_equivalent(u.km / u.s):
            return quantity.to_value(u.km / u.s)
        if self.restfrq is None:
            raise ValueError(f"{self.ctype} axis and no RESTFRQ, so channel velocities are unknown")
        rest = self.restfrq * u.Hz
        return quantity.to_value(u.km / u.s, equivalencies=u.doppler_radio(rest))


@dataclass(frozen=True)
class ImageMeta:
    """What the header says about one object."""

    path: str
    hdu: int
    hdu_name: str
    shape: tuple[int, ...]
    object: str | None = None
    ra: float | None = None  # deg, ICRS
    dec: float | None = None  # deg, ICRS
    restfrq: float | None = None  # Hz
    bunit: str | None = None
    pixel_scale: float | None = None  # arcsec per pixel
    beam: Beam | None = None
    spectral: SpectralAxis | None = None
    nan_fraction: float = 0.0
    cutout: tuple[str, int, int] | None = None  # (map file, x0, y0) of a morphospace cutout

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form that :meth:`from_dict` turns back into an equal ImageMeta."""
        out = asdict(self)
        out["shape"] = list(self.shape)
        if self.cutout is not None:
            out["cutout"] = list(self.cutout)
        if self.spectral is not None:
            out["spectral"]["values"] = self.spectral.values.tolist()
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ImageMeta:
        values = dict(values)
        values["shape"] = tuple(values["shape"])
        if values.get("cutout") is not None:
            values["cutout"] = tuple(values["cutout"])
        if values.get("beam") is not None:
            values["beam"] = Beam(**values["beam"])
        if values.get("spectral") is not None:
            spectral = dict(values["spectral"])
            spectral["values"] = np.asarray(spectral["values"], dtype=float)
            values["spectral"] = SpectralAxis(**spectral)
        return cls(**values)

    def as_row(self) -> dict[str, Any]:
        """Flat, table-friendly form of the metadata (one row of an inspect or embedding table)."""
        return {
            "path": self.path,
            "hdu": self.hdu,
            "object": self.object,
            "ra": self.ra,
            "dec": self.dec,
            "restfrq": self.restfrq,
            "bunit": self.bunit,
            "pixel_scale": self.pixel_scale,
            "bmaj": self.beam.major if self.beam else None,
            "bmin": self.beam.minor if self.beam else None,
            "bpa": self.beam.pa if self.beam else None,
            "spectral_type": self.spectral.ctype if self.spectral else None,
            "spectral_step": self.spectral.step if self.spectral else None,
            "spectral_unit": self.spectral.unit if self.spectral else None,
            "shape": "x".join(str(n) for n in self.shape),
            "nan_fraction": self.nan_fraction,
            "cutout_map": self.cutout[0] if self.cutout else None,
            "cutout_x0": self.cutout[1] if self.cutout else None,
            "cutout_y0": self.cutout[2] if self.cutout else None,
        }


@dataclass
class SkyImage:
    """One object: ``data`` is float32 with NaN where blank, shape (H, W) or (C, H, W).

    ``mask`` is True where a pixel is blank (BLANK, NaN or inf in the file). ``wcs`` is the
    WCS of the squeezed data (celestial, plus spectral for cubes), or None if the header has none.
    """

    data: np.ndarray
    mask: np.ndarray
    meta: ImageMeta
    wcs: WCS | None = None

    @property
    def is_cube(self) -> bool:
        return self.data.ndim == 3


def read_fits(path: str | Path, hdu: int | str | None = None, min_side: int = MIN_SIDE) -> SkyImage:
    """Read a FITS image or cube.

    Parameters
    ----------
    path : str or Path
        A ``.fits``, ``.fits.gz`` or ``.fz`` file.
    hdu : int or str, optional
        Index or EXTNAME of the HDU to read. By default, the first HDU that holds image data.
    min_side : int
        Smallest accepted image side in pixels.

    Returns
    -------
    SkyImage

    Raises
    ------
    InputError
        For a missing, non-FITS or truncated file, no image HDU, 1-D or 5-D data, a
        zero-size axis, an all-blank image or an image below ``min_side``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not a FITS file")
    try:
        return _read(path, hdu, min_side)
    except InputError:
        raise
    except MemoryError:
        raise InputError(path, "too large to read into memory") from None
    except Exception as exc:  # whatever a corrupt file makes the FITS layer raise
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(path, f"corrupt FITS file ({reason})") from None


def _read(path: Path, hdu: int | str | None, min_side: int) -> SkyImage:
    with warnings.catch_warnings():
        # Header-fixing chatter from astropy is noise here; real problems raise below.
        warnings.simplefilter("ignore")
        plain = _read_plain(path, hdu, min_side)
        if plain is not None:
            return plain
        _check_axis_counts(path)
        try:
            # No memmap: scaled (BSCALE/BZERO/BLANK) data cannot be memory-mapped, and the
            # data is copied to float32 anyway.
            hdul = fits.open(path, memmap=False)
        except OSError as exc:
            raise InputError(path, _describe_open_error(exc)) from None
        except Exception as exc:
            raise InputError(path, f"not a readable FITS file ({exc})") from None
        with hdul:
            index = _choose_hdu(path, hdul, hdu)
            chosen = hdul[index]
            header = chosen.header
            _check_axes(path, header)
            _check_declared_size(path, header, isinstance(chosen, fits.CompImageHDU))
            try:
                raw = chosen.data
            except Exception as exc:
                raise InputError(path, f"truncated or corrupt FITS data ({exc})") from None
            if raw is None:
                raise InputError(path, f"HDU {index} holds no data")
            beam = _beam_from_header(header) or _beam_from_table(hdul)
            wcs = _wcs_or_none(path, header)
            data, wcs = _squeeze(path, np.asarray(raw), wcs)
            return _make_image(path, index, chosen.name, header, data, wcs, beam, min_side)


def _read_plain(path: Path, hdu: int | str | None, min_side: int) -> SkyImage | None:
    """The image of a plain single-image FITS file, read directly, or None for the full route."""
    if hdu is not None:
        return None
    plain = _fast.read_plain(path)
    if plain is None:
        return None
    cards, wcs_text, raw = plain
    try:
        wcs = _wcs_from_text(wcs_text, cards)
    except Exception as exc:
        raise InputError(path, f"has a WCS that cannot be parsed ({_wcslib_reason(exc)})") from None
    data, wcs = _squeeze(path, raw, wcs)
    name = str(cards.get("EXTNAME", "PRIMARY")).strip().upper() or "PRIMARY"
    return _make_image(path, 0, name, cards, data, wcs, _beam_from_header(cards), min_side)


def _describe_open_error(exc: OSError) -> str:
    text = str(exc)
    if "SIMPLE" in text or "not appear to be a valid FITS" in text:
        return "not a FITS file (no SIMPLE card at the start)"
    if "truncated" in text.lower() or "empty" in text.lower():
        return f"truncated or empty FITS file ({text})"
    return f"cannot open as FITS ({text})"


def _has_image_data(hdu: Any) -> bool:
    return bool(getattr(hdu, "is_image", False)) and hdu.header.get("NAXIS", 0) > 0


def _hdu_label(hdu: Any) -> str:
    kind = "image" if _has_image_data(hdu) else ("empty" if hdu.is_image else "table")
    return f"{hdu.name or '?'} ({kind})"


def _choose_hdu(path: Path, hdul: fits.HDUList, hdu: int | str | None) -> int:
    labels = ", ".join(_hdu_label(h) for h in hdul)
    if hdu is None:
        for i, candidate in enumerate(hdul):
            if _has_image_data(candidate):
                return i
        raise InputError(path, f"no image HDU (HDUs: {labels})")
    if isinstance(hdu, str) and hdu.strip().lstrip("-").isdigit():
        hdu = int(hdu)
    try:
        index = hdu if isinstance(hdu, int) else hdul.index_of(hdu)
        chosen = hdul[index]
    except (KeyError, IndexError):
        raise InputError(path, f"no HDU {hdu!r} (HDUs: {labels})") from None
    if not _has_image_data(chosen):
        raise InputError(path, f"HDU {hdu!r} holds no image data (HDUs: {labels})")
    return index if index >= 0 else len(hdul) + index


def _check_axes(path: Path, header: fits.Header) -> None:
    naxis = header.get("NAXIS", 0)
    # FITS order is fastest-first; report the numpy order users see in Python.
    shape = tuple(header.get(f"NAXIS{i}", 0) for i in range(naxis, 0, -1))
    if any(n == 0 for n in shape):
        raise InputError(path, f"zero-size axis in data shape {shape}")
    if naxis == 1:
        raise InputError(path, f"1-D data (shape {shape}); morphospace needs a 2-D image or a cube")
    if naxis > 4:
        raise InputError(
            path, f"{naxis}-D data (shape {shape}); morphospace reads 2-D images and 3-D/4-D cubes"
        )


#: The FITS standard's most axes; astropy loops over whatever NAXIS a header declares.
MAX_NAXIS = 999


def _check_axis_counts(path: Path) -> None:
    """Refuse a header declaring more axes than FITS allows, before astropy opens the file
    (it would loop over ``NAXIS`` of them: a header of ``NAXIS = 2**40`` hangs it).

    Walks the HDUs' headers, skipping their data; a ``.gz`` file has only its primary
    header checked, as skipping compressed data means decompressing it.
    """
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            naxis = _largest_axis_count(handle, walk=not compressed)
    except (OSError, EOFError, ValueError, OverflowError):
        return  # not readable this way: astropy's own open says what is wrong
    if not 0 <= naxis <= MAX_NAXIS:
        raise InputError(path, f"NAXIS = {naxis} is not valid (FITS allows 0 to 999)")


def _largest_axis_count(handle, walk: bool) -> int:
    """The first NAXIS outside 0-999 among the headers (the first header only unless
    ``walk``), else 0."""
    while (cards := _header_integers(handle)) is not None:
        naxis = cards.get("NAXIS", 0)
        if not 0 <= naxis <= MAX_NAXIS:
            return naxis
        if not walk:
            break
        pixels = math.prod(cards.get(f"NAXIS{i}", 0) for i in range(1, naxis + 1))
        size = abs(cards.get("BITPIX", 8)) // 8 * cards.get("GCOUNT", 1)
        size *= cards.get("PCOUNT", 0) + (pixels if naxis else 0)
        handle.seek(-(-size // _fast.BLOCK) * _fast.BLOCK, 1)
    return 0


def _header_integers(handle) -> dict[str, int] | None:
    """The integer cards of the next header (up to its END card), or None at the end."""
    cards: dict[str, int] = {}
    while True:
        block = handle.read(_fast.BLOCK)
        if len(block) < _fast.BLOCK:
            return None
        for start in range(0, _fast.BLOCK, 80):
            card = block[start : start + 80]
            if card[:8] == b"END     ":
                return cards
            keyword = card[:8].rstrip().decode("ascii", "replace")
            if card[8:10] == b"= " and keyword not in cards:
                with contextlib.suppress(ValueError):  # not an integer: not needed here
                    cards[keyword] = int(card[10:30].strip())


#: More pixels than this in a compressed HDU (whose stored size says nothing of its
#: decompressed one) are refused rather than allocated: 16 GiB as float32.
MAX_COMPRESSED_PIXELS = 4_000_000_000


def _check_declared_size(path: Path, header: fits.Header, tiled: bool) -> None:
    """Refuse a header declaring more data than the file can hold, before allocating it."""
    naxis = header.get("NAXIS", 0)
    pixels = math.prod(int(header.get(f"NAXIS{i}", 0)) for i in range(1, naxis + 1))
    shape = "x".join(str(header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))
    if tiled or path.name.lower().endswith((".gz", ".fz")):
        if pixels > MAX_COMPRESSED_PIXELS:
            raise InputError(path, f"declares {shape} pixels, too many to decompress")
        return
    declared = pixels * abs(int(header.get("BITPIX", 8))) // 8
    held = path.stat().st_size
    if declared > held:
        declared_text, held_text = _in_one_unit(declared, held)
        raise InputError(
            path,
            f"truncated: the header declares {shape} pixels ({declared_text}), "
            f"the file holds {held_text}",
        )


def _in_one_unit(*sizes: int) -> list[str]:
    """Byte counts in the one binary unit that suits the largest: ``["160 KiB", "22.4 KiB"]``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    power = min(int(math.log(max(*sizes, 1), 1024)), len(units) - 1)
    return [f"{size / 1024**power:.3g} {units[power]}" for size in sizes]


def _wcs_or_none(path: Path, header: fits.Header) -> WCS | None:
    # astropy's WCS(header) re-serialises the header several times, which made it the slowest
    # part of reading; wcslib parses the WCS keywords alone ~20x faster. SIP and lookup-table
    # distortions live in astropy's Python layer, so headers with them take the full route.
    wcs_header = fits.Header(
        [card for card in header.cards if _fast.WCS_KEYWORDS.match(card.keyword)]
    )
    try:
        if any(key in header for key in _fast.DISTORTION_KEYWORDS):
            return _with_axes(WCS(wcs_header))
        return _wcs_from_text(wcs_header.tostring().encode("ascii"), header)
    except Exception as exc:
        raise InputError(path, f"has a WCS that cannot be parsed ({_wcslib_reason(exc)})") from None


def _wcs_from_text(text: bytes, header: Mapping[str, Any]) -> WCS | None:
    """A WCS parsed by wcslib from header ``text`` (no distortions), sized from ``header``."""
    params = Wcsprm(header=text, relax=True)
    params.fix()
    params.set()  # wcslib checks the axis types and projection now, not at first use
    wcs = WCS(naxis=params.naxis, fix=False)  # fixing the placeholder it replaces is wasted
    wcs.wcs = params
    shape = [header.get(f"NAXIS{i}", 0) for i in range(1, params.naxis + 1)]
    if all(shape):
        wcs.pixel_shape = shape
    return _with_axes(wcs)


def _with_axes(wcs: WCS) -> WCS | None:
    return wcs if wcs.wcs.ctype[0] or wcs.has_celestial else None


def _squeeze(path: Path, data: np.ndarray, wcs: WCS | None) -> tuple[np.ndarray, WCS | None]:
    """Drop degenerate axes (and take Stokes I from a full Stokes axis), keeping the WCS in step."""
    fits_axes = list(range(data.ndim))  # FITS axis i is numpy axis ndim-1-i
    ctypes = list(wcs.wcs.ctype) if wcs is not None and wcs.naxis == data.ndim else [""] * data.ndim
    keep: list[int] = []
    for i in fits_axes:
        np_axis = data.ndim - 1 - i
        length = data.shape[np_axis]
        if ctypes[i].upper().startswith("STOKES") and length > 1:
            data = np.take(data, [_stokes_i_index(path, wcs, i, length)], axis=np_axis)
            continue
        if length > 1 or i < 2:
            keep.append(i)
    drop = tuple(data.ndim - 1 - i for i in fits_axes if i not in keep)
    data = np.squeeze(data, axis=drop) if drop else data
    if data.ndim > 3:
        raise InputError(
            path,
            f"{data.ndim}-D data (shape {data.shape}) with no degenerate or Stokes axis to drop; "
            "morphospace reads 2-D images and 3-D/4-D cubes",
        )
    if wcs is not None and wcs.naxis == len(fits_axes) and len(keep) < len(fits_axes):
        wcs = wcs.sub([i + 1 for i in keep])
    return data, wcs


def _stokes_i_index(path: Path, wcs: WCS | None, fits_axis: int, length: int) -> int:
    assert wcs is not None
    values = (
        wcs.wcs.crval[fits_axis]
        + (np.arange(length) + 1 - wcs.wcs.crpix[fits_axis]) * wcs.wcs.cdelt[fits_axis]
    )
    matches = np.flatnonzero(np.isclose(values, 1.0))  # Stokes I has the value 1
    if not matches.size:
        raise InputError(path, f"Stokes axis of length {length} has no Stokes I plane")
    return int(matches[0])


def _beam_from_header(header: fits.Header) -> Beam | None:
    if "BMAJ" not in header or "BMIN" not in header:
        return None
    try:
        return Beam(
            major=float(header["BMAJ"]) * 3600.0,
            minor=float(header["BMIN"]) * 3600.0,
            pa=float(header.get("BPA", 0.0)),
        )
    except (TypeError, ValueError):
        return None


def _beam_from_table(hdul: fits.HDUList) -> Beam | None:
    """Median beam of a CASA per-plane ``BEAMS`` table (units from TUNITn, arcsec by default)."""
    if "BEAMS" not in hdul:
        return None
    table = hdul["BEAMS"]
    try:
        columns = {name.upper(): name for name in table.columns.names}
        values = []
        for key, default_unit in (("BMAJ", u.arcsec), ("BMIN", u.arcsec), ("BPA", u.deg)):
            column = table.columns[columns[key]]
            unit = u.Unit(column.unit) if column.unit else default_unit
            target = u.deg if key == "BPA" else u.arcsec
            values.append(float(np.median((table.data[columns[key]] * unit).to_value(target))))
    except (KeyError, ValueError, TypeError):
        return None
    return Beam(*values)


def _celestial(wcs: WCS | None) -> Wcsprm | None:
    """wcslib's parameters of the celestial axes, or None.

    The metadata is computed from them directly: per file, astropy's WCS methods cost
    several times the transforms themselves.
    """
    if wcs is None:
        return None
    params = wcs.wcs.sub([WCSSUB_CELESTIAL])
    return params if params.naxis == 2 else None


def _pixel_scale(celestial: Wcsprm | None) -> float | None:
    """Geometric mean of the two celestial pixel sides in arcsec."""
    if celestial is None:
        return None
    wcs = WCS(naxis=2)
    wcs.wcs = celestial
    sides = proj_plane_pixel_scales(wcs) * _arcsec_per(celestial.cunit[0] or "deg")
    scale = float(np.sqrt(np.prod(sides)))
    return scale if math.isfinite(scale) and scale > 0 else None


@functools.cache
def _arcsec_per(unit: u.UnitBase | str) -> float:
    return float(u.Unit(unit).to(u.arcsec))


def _sky_position(header: Mapping[str, Any], celestial: Wcsprm | None, shape: tuple[int, ...]):
    """OBSRA/OBSDEC when the header has them, else the ICRS position of the image centre."""
    if "OBSRA" in header and "OBSDEC" in header:
        try:
            return float(header["OBSRA"]), float(header["OBSDEC"])
        except (TypeError, ValueError):
            pass
    if celestial is None:
        return None, None
    try:
        centre = np.array([[(shape[-1] - 1) / 2, (shape[-2] - 1) / 2]])
        (world,) = celestial.p2s(centre, 0)["world"]
        # the axes may come latitude first (CTYPE1 = 'DEC--TAN')
        lon, lat = world[celestial.lng], world[celestial.lat]
        return _fast.to_icrs(float(lon), float(lat), celestial)
    except Exception:
        return None, None


def _spectral_axis(wcs: WCS | None, n_channels: int, restfrq: float | None) -> SpectralAxis | None:
    if wcs is None or wcs.naxis != 3:
        return None
    spectral = wcs.sub([3])
    ctype = spectral.wcs.ctype[0] or "CHANNEL"
    unit = str(spectral.wcs.cunit[0]) or ""
    values = np.asarray(spectral.pixel_to_world_values(np.arange(n_channels)), dtype=float)
    try:
        u.Unit(unit)
    except ValueError:
        unit = ""
    return SpectralAxis(ctype=ctype, unit=unit, values=values, restfrq=restfrq)


def _make_image(
    path: Path,
    index: int,
    hdu_name: str,
    header: Mapping[str, Any],
    raw: np.ndarray,
    wcs: WCS | None,
    beam: Beam | None,
    min_side: int,
) -> SkyImage:
    # float32 in native byte order: torch refuses big-endian arrays.
    data = np.array(raw, dtype=np.float32, order="C")
    mask = ~np.isfinite(data)
    data[mask] = np.nan
    height, width = data.shape[-2:]
    n_blank = int(np.count_nonzero(mask))
    if n_blank == mask.size:
        raise InputError(path, "all pixels are blank (NaN, inf or BLANK)")
    if min(height, width) < min_side:
        raise InputError(
            path, f"image is {width}x{height} px, below the minimum of {min_side} px per side"
        )
    restfrq = header.get("RESTFRQ", header.get("RESTFREQ"))
    if restfrq is None and wcs is not None and wcs.wcs.restfrq:
        restfrq = wcs.wcs.restfrq
    celestial = _celestial(wcs)
    ra, dec = _sky_position(header, celestial, data.shape)
    name = header.get("OBJECT")
    meta = ImageMeta(
        path=str(path),
        hdu=index,
        hdu_name=hdu_name,
        shape=tuple(int(n) for n in data.shape),
        object=str(name).strip() if name not in (None, "") else None,
        ra=ra,
        dec=dec,
        restfrq=float(restfrq) if restfrq else None,
        bunit=str(header["BUNIT"]).strip() if header.get("BUNIT") else None,
        pixel_scale=_pixel_scale(celestial),
        beam=beam,
        spectral=_spectral_axis(wcs, data.shape[0], restfrq) if data.ndim == 3 else None,
        nan_fraction=n_blank / mask.size,
        cutout=_cutout_box(header),
    )
    return SkyImage(data=data, mask=mask, meta=meta, wcs=wcs)


def _cutout_box(header) -> tuple[str, int, int] | None:
    """Where a cutout written by ``morphospace cutouts`` sits in its map (CUTMAP/CUTX0/CUTY0)."""
    try:
        return str(header["CUTMAP"]), int(header["CUTX0"]), int(header["CUTY0"])
    except (KeyError, ValueError, TypeError):
        return None


def _wcslib_reason(exc: BaseException) -> str:
    """wcslib's reason without its source location ("ERROR 4 in wcs_types() at line …:")."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:160]
