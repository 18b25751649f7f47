"""Reading a memory-mapped map or bank a window at a time keeps only a budget of its pages
resident, and loses nothing written through it."""

from __future__ import annotations

import mmap
import sys
from pathlib import Path

import numpy as np
import pytest

from morphospace.io._pages import PageBudget, mapping_of

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/smaps"
)


def resident(path: Path) -> int:
    """Bytes of ``path``'s mappings resident in this process (the kernel's own count)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split()[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total


def read_every_row(array: np.ndarray, pages: PageBudget | None) -> float:
    total = 0.0
    for start in range(0, len(array), 16):
        block = np.array(array[start : start + 16])
        total += float(block[:, 0].sum())
        if pages is not None:
            pages.spend(block.nbytes)
    return total


def test_pages_read_through_a_budget_stay_within_it(tmp_path):
    path = tmp_path / "map.npy"
    np.save(path, np.ones((4096, 4096), np.float32))  # 64 MiB
    plain = np.load(path, mmap_mode="r")
    assert read_every_row(plain, None) == 4096
    assert resident(path) > 48 * 2**20  # every page read stays mapped
    del plain

    budgeted = np.load(path, mmap_mode="r")
    pages = PageBudget(budgeted, budget=4 * 2**20)
    assert read_every_row(budgeted, pages) == 4096
    assert resident(path) <= 4 * 2**20 + 16 * 4096 * 4 + mmap.PAGESIZE


def test_pages_given_back_after_writing_keep_what_was_written(tmp_path):
    path = tmp_path / "bank.npy"
    bank = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(2048, 1024))
    pages = PageBudget(bank, budget=0)
    for start in range(0, 2048, 256):
        bank[start : start + 256] = np.arange(start, start + 256)[:, None] % 1000
        pages.release()
    assert resident(path) < 2 * 2**20
    again = np.load(path, mmap_mode="r")
    assert np.array_equal(again[:, 3], np.arange(2048) % 1000)
    assert np.array_equal(bank[:, 1023], np.arange(2048) % 1000)  # the writer reads it too


def test_an_array_in_memory_has_no_pages_to_give_back():
    array = np.ones(10)
    assert mapping_of(array) is None
    pages = PageBudget(array, budget=1)
    pages.spend(10**9)
    assert array.sum() == 10


def test_windows_cut_from_a_map_keep_only_a_budget_of_it_resident(tmp_path):
    from astropy.io import fits
    from astropy.table import Table

    from morphospace.io import find_sources, read_object
    from morphospace.io._pages import FAULT_AROUND, PAGE_BUDGET
    from morphospace.io.cutouts import CatalogueCut

    side = 8192  # a 256 MiB map, twice the budget
    rng = np.random.default_rng(0)
    field = tmp_path / "field.fits"
    fits.PrimaryHDU(np.ones((side, side), dtype=np.float32)).writeto(field)
    n = 2000
    x, y = rng.integers(40, side - 40, n), rng.integers(40, side - 40, n)
    Table({"x": x, "y": y}).write(tmp_path / "positions.fits")
    cut = CatalogueCut(tmp_path / "positions.fits", size="32px", x_column="x", y_column="y")
    addresses = find_sources([cut.stack(field, tmp_path / "sources")])
    peak = 0
    for i, address in enumerate(addresses):
        assert read_object(address).data.sum() == 32 * 32
        if i % 50 == 0:
            peak = max(peak, resident(field))
    # the windows read span the map (256 MiB) several times over; what stays resident is
    # the budget, give or take the kernel's reading ahead in larger blocks than counted
    assert n * 32 * FAULT_AROUND > 4 * field.stat().st_size
    assert 0 < peak <= 1.25 * PAGE_BUDGET
