"""Speed shortcuts of the io layer, each beside the library call it stands in for.

| shortcut | stands in for |
|---|---|
| :func:`read_plain` | ``astropy.io.fits.open`` with its header parsing, for plain files |
| :func:`to_icrs` | ``SkyCoord(..., frame=wcs_to_celestial_frame(wcs)).icrs`` |

Each library version is kept here too (:data:`LIBRARY`): the tests check that both give
the same results on varied files and frames, and ``benchmarks/shortcuts.py`` measures
what each shortcut buys end to end.

Most files are one uncompressed floating-point image in the primary HDU. Parsing their
header with astropy costs about twice the time of reading the pixels (card objects,
verification, configuration lookups for every card), so such files are read directly:
the cards the reader needs are parsed here, the WCS by wcslib from the raw header. Any
other file (compressed, scaled or integer data, extensions that may hold a beam table,
long-string or complex cards, distortions) takes astropy's route, which is also the one
that reports problems. Per file, astropy's WCS and coordinate objects cost several times
the transforms themselves, so the ICRS position is computed from wcslib's
parameters directly.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import CartesianRepresentation, SkyCoord
from astropy.wcs import WCS, Wcsprm
from astropy.wcs.utils import wcs_to_celestial_frame

# Keywords of the FITS WCS papers I-IV, SIP and time/observer WCS (with alternate-WCS letters).
WCS_KEYWORDS = re.compile(
    r"^(NAXIS|WCSAXES|WCSNAME|CTYPE|CRVAL|CDELT|CRPIX|CUNIT|CROTA|CRDER|CSYER|PC\d|CD\d|PV\d|PS\d|"
    r"LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|RESTFRQ|RESTFREQ|RESTWAV|SPECSYS|SSYSOBS|"
    r"SSYSSRC|VELOSYS|VELANGL|VELREF|ZSOURCE|MJD|DATE|OBSGEO|TIMESYS|TREFPOS|TREFDIR|PLEPHEM|"
    r"TIMEUNIT|A_|B_|AP_|BP_)"
)
DISTORTION_KEYWORDS = ("A_ORDER", "B_ORDER", "CPDIS1", "CPDIS2", "D2IMDIS1", "D2IMDIS2")

#: What :func:`read_plain` gives: keyword -> value, the WCS cards' text, the pixels.
PlainFile = tuple[dict[str, Any], bytes, np.ndarray]

BLOCK = 2880  # bytes: the unit of every FITS header and data part
_FLOAT_TYPES = {-32: ">f4", -64: ">f8"}
_UNPARSED = object()


def read_plain(path: Path) -> PlainFile | None:
    """The cards, WCS card text and pixels of a plain single-image FITS file, or None.

    Stands in for ``astropy.io.fits.open(path)`` and its ``[0].header`` and ``[0].data``;
    None sends the file down that route (:func:`library_read_plain`).
    """
    if path.suffix.lower() not in (".fits", ".fit", ".fts"):
        return None
    try:
        with path.open("rb") as handle:
            header_bytes = _raw_header(handle)
            if header_bytes is None:
                return None
            parsed = _parse_cards(header_bytes)
            if parsed is None:
                return None
            cards, wcs_text = parsed
            if not _is_plain_image(cards):
                return None
            shape = tuple(int(cards[f"NAXIS{i}"]) for i in range(int(cards["NAXIS"]), 0, -1))
            dtype = np.dtype(_FLOAT_TYPES[int(cards["BITPIX"])])
            size = math.prod(shape) * dtype.itemsize
            file_size = os.fstat(handle.fileno()).st_size
            data_end = handle.tell() + size
            if file_size < data_end:
                return None  # truncated: the full route says so
            if "BMAJ" not in cards and file_size > -(-data_end // BLOCK) * BLOCK:
                return None  # an extension may hold a CASA beam table
            payload = handle.read(size)
    except (OSError, UnicodeDecodeError, ValueError, KeyError):
        return None
    return cards, wcs_text, np.frombuffer(payload, dtype=dtype).reshape(shape)


def _raw_header(handle) -> bytes | None:
    """The primary header's bytes up to its END card (file left at the data), or None."""
    blocks = []
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK or (not blocks and not block.startswith(b"SIMPLE  =")):
            return None
        blocks.append(block)
        for start in range(0, BLOCK, 80):
            if block[start : start + 8] == b"END     ":
                return b"".join(blocks)[: (len(blocks) - 1) * BLOCK + start + 80]


def _parse_cards(header: bytes) -> tuple[dict[str, Any], bytes] | None:
    """Keyword -> value (first occurrence) of simple cards, and the text of the WCS cards.

    None for cards this parser skips. wcslib parses the WCS cards alone faster than the
    whole header, as in :func:`_wcs_or_none`.
    """
    cards: dict[str, Any] = {}
    wcs_cards = []
    text = header.decode("ascii")
    for start in range(0, len(text) - 80, 80):
        card = text[start : start + 80]
        keyword = card[:8].rstrip()
        if card[8:10] != "= ":
            if keyword == "CONTINUE":
                return None
            continue  # COMMENT, HISTORY, blank and HIERARCH cards: not needed here
        value = _card_value(card[10:])
        if value is _UNPARSED:
            return None
        cards.setdefault(keyword, value)
        if WCS_KEYWORDS.match(keyword):
            wcs_cards.append(card)
    return cards, "".join(wcs_cards).encode("ascii")


def _card_value(field: str) -> Any:
    field = field.lstrip()
    if field.startswith("'"):
        end = 1
        while True:
            end = field.find("'", end)
            if end < 0:
                return _UNPARSED
            if field[end + 1 : end + 2] != "'":
                return field[1:end].replace("''", "'").rstrip()
            end += 2
    text = field.split("/", 1)[0].strip()
    if text in ("T", "F"):
        return text == "T"
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace("D", "E"))
    except ValueError:
        return _UNPARSED


def _is_plain_image(cards: dict[str, Any]) -> bool:
    naxis = cards.get("NAXIS")
    if cards.get("SIMPLE") is not True or not isinstance(naxis, int) or not 2 <= naxis <= 4:
        return False
    axes = [cards.get(f"NAXIS{i}") for i in range(1, naxis + 1)]
    return (
        cards.get("BITPIX") in _FLOAT_TYPES
        and all(isinstance(n, int) and n > 0 for n in axes)
        and cards.get("BSCALE", 1) == 1
        and cards.get("BZERO", 0) == 0
        and not cards.get("GROUPS")
        and not any(key in cards for key in DISTORTION_KEYWORDS)
    )


# Frames whose transform to ICRS is a fixed rotation (FK4 is not: it carries E-terms).
_ROTATION_FRAMES = ("galactic", "fk5")


def _frame_key(w: Wcsprm) -> str:
    """What astropy reads to name a WCS's celestial frame (axis types, system, epochs, body)."""
    body = (w.name, w.aux.a_radius, w.aux.b_radius, w.aux.c_radius)
    return repr((tuple(w.ctype), w.radesys, w.equinox, w.dateobs, w.mjdobs, body))


_FRAMES: dict[str, tuple[Any, np.ndarray | None]] = {}


def _frame_to_icrs(celestial: Wcsprm) -> tuple[Any, np.ndarray | None]:
    """The WCS's celestial frame and, where its transform to ICRS is a rotation, the matrix.

    Naming the frame and transforming with SkyCoord each cost more than reading a small
    file, and the files of one survey share a frame: both are kept per frame description.
    """
    key = _frame_key(celestial)
    if key not in _FRAMES:
        wcs = WCS(naxis=2)
        wcs.wcs = celestial
        frame = wcs_to_celestial_frame(wcs)
        rotation = None
        if frame.name in _ROTATION_FRAMES:  # astropy's own transform of the unit vectors
            basis = SkyCoord(CartesianRepresentation(*np.eye(3)), frame=frame)
            rotation = np.asarray(basis.icrs.cartesian.xyz)
        _FRAMES[key] = frame, rotation
    return _FRAMES[key]


def to_icrs(lon: float, lat: float, celestial: Wcsprm) -> tuple[float, float]:
    """ICRS position (degrees) of a point given in the WCS's own celestial frame.

    Stands in for ``SkyCoord(lon, lat, frame=wcs_to_celestial_frame(wcs)).icrs``
    (:func:`library_to_icrs`).
    """
    frame, rotation = _frame_to_icrs(celestial)
    if frame.name == "icrs":
        return lon % 360.0, lat
    if rotation is None:
        icrs = SkyCoord(lon * u.deg, lat * u.deg, frame=frame).icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    vector = np.array([np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)])
    x, y, z = rotation @ vector
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(np.degrees(np.arcsin(z)))


# --- the library calls the shortcuts stand in for -----------------------------------------


def library_read_plain(path: Path) -> None:
    """No direct read: every file takes ``astropy.io.fits.open``'s route."""
    return None


def library_to_icrs(lon: float, lat: float, celestial: Wcsprm) -> tuple[float, float]:
    """:func:`to_icrs` through ``SkyCoord`` in the frame ``wcs_to_celestial_frame`` names."""
    wcs = WCS(naxis=2)
    wcs.wcs = celestial
    icrs = SkyCoord(lon * u.deg, lat * u.deg, frame=wcs_to_celestial_frame(wcs)).icrs
    return float(icrs.ra.deg), float(icrs.dec.deg)


LIBRARY: dict[str, Callable[..., Any]] = {
    "read_plain": library_read_plain,
    "to_icrs": library_to_icrs,
}
