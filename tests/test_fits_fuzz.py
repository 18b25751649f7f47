"""The FITS reader under random headers and flipped bytes: our one-line error, or an image."""

from __future__ import annotations

import io
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import celestial_header
from morphospace.errors import InputError
from morphospace.io import read_fits

# CI replays the same examples every time; elsewhere each run tries new ones.
FUZZ = settings(
    max_examples=120,
    deadline=5000,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
HANG = 20  # seconds: a read that takes longer is a hang, and fails the test


def _hung(signum, frame):
    raise AssertionError(f"read_fits hung for over {HANG} s")


def _good_file() -> bytes:
    data = np.random.default_rng(0).normal(size=(24, 24)).astype(np.float32)
    header = celestial_header(data.shape)
    header.update(BMAJ=1e-3, BMIN=1e-3, BUNIT="Jy/beam", OBJECT="fuzz")
    buffer = io.BytesIO()
    fits.PrimaryHDU(data, header).writeto(buffer)
    return buffer.getvalue()


GOOD = _good_file()


def _read(content: bytes, suffix: str = ".fits") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(content)
        previous = signal.signal(signal.SIGALRM, _hung)
        signal.alarm(HANG)
        try:
            image = read_fits(path)
        except InputError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            return
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        assert image.data.ndim in (2, 3) and min(image.data.shape[-2:]) >= 16


def _flipped(content: bytes, flips: list[tuple[int, int]]) -> bytes:
    changed = bytearray(content)
    for position, value in flips:
        changed[position] = value
    return bytes(changed)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=40))
def test_flipped_bytes_give_an_image_or_our_error(flips):
    _read(_flipped(GOOD, flips))


@FUZZ
@given(st.integers(0, len(GOOD)))
def test_a_file_cut_anywhere_gives_an_image_or_our_error(length):
    _read(GOOD[:length])


PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
CARD_VALUES = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(alphabet=PRINTABLE, max_size=20),
)  # fmt: skip
KEYS = st.sampled_from(
    ["BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "BSCALE", "BZERO", "BLANK", "CTYPE1",
     "CTYPE2", "CRVAL1", "CDELT1", "CRPIX1", "CUNIT1", "BMAJ", "BMIN", "OBSRA", "EXTEND"]
)  # fmt: skip


@FUZZ
@given(st.dictionaries(KEYS, CARD_VALUES, max_size=6))
def test_random_header_values_give_an_image_or_our_error(changes):
    header_end = GOOD.index(b"END" + b" " * 77) + 80
    cards = [GOOD[i : i + 80].decode() for i in range(0, header_end - 80, 80)]
    for key, value in changes.items():
        try:
            card = fits.Card(key, value).image
        except (ValueError, TypeError, OverflowError):
            continue  # not even writable as a card
        index = next((i for i, c in enumerate(cards) if c[:8].strip() == key), None)
        if index is None:
            cards.append(card)
        else:
            cards[index] = card
    header = ("".join(cards) + "END".ljust(80)).encode("ascii")
    header = header.ljust(-(-len(header) // 2880) * 2880)
    data_start = -(-header_end // 2880) * 2880
    _read(header + GOOD[data_start:])


def _tiled_file() -> bytes:
    data = np.random.default_rng(1).normal(size=(48, 48)).astype(np.float32)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(buffer)
    return buffer.getvalue()


TILED = _tiled_file()


@FUZZ
@given(st.lists(st.tuples(st.integers(2880, len(TILED) - 1), st.integers(0, 255)), max_size=40))
def test_a_tile_compressed_file_with_bad_tiles_gives_an_image_or_our_error(flips):
    _read(_flipped(TILED, flips), ".fits.fz")
