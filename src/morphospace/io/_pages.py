"""Memory-mapped files read (or written) a little at a time, without their pages piling up.

A process that reads windows of a memory-mapped survey map, or rows of the training bank,
keeps every page it has touched mapped in its address space, so that its resident memory
grows to the size of the file even though it needs one window at a time. The kernel can
drop those pages, but counts them as the process's own until it does. :class:`PageBudget`
counts the bytes read through a mapping and, past a budget, tells the kernel the process
no longer needs any of its pages (``madvise(MADV_DONTNEED)``): the data stays in the
file (and, written, in the page cache on its way there), and a page read again comes back
from the page cache. What the process holds of the file stays about the budget (the
kernel may map its pages in larger blocks than counted here).
"""

from __future__ import annotations

import mmap
from typing import Any

__all__ = ["FAULT_AROUND", "PAGE_BUDGET", "PageBudget", "mapping_of"]

#: Bytes of a mapped file a process may touch before its pages are given back.
PAGE_BUDGET = 128 * 2**20
#: A page read from a mapped file comes with its neighbours: the kernel maps up to 16
#: pages around it that are already in the page cache (its ``fault_around_bytes``).
FAULT_AROUND = 16 * mmap.PAGESIZE


def mapping_of(array: Any) -> mmap.mmap | None:
    """The memory map behind a NumPy array (a ``np.memmap``, ``np.load(mmap_mode=…)``, or
    astropy's ``fits.open(memmap=True)`` data), or None when it is not memory-mapped."""
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        base = getattr(base, "base", None)
    return None


class PageBudget:
    """Gives back the pages of the mapping behind ``array`` once ``budget`` bytes have been
    read or written through it since the last time (nothing for an array in memory).

    Call :meth:`spend` with the bytes each read touches (:meth:`spend_rows` for a read of
    rows that lie apart in the file, as a window of a map or rows of a bank drawn at
    random); :meth:`release` gives the pages back at once (written pages are flushed to the
    file first). Arrays read this way must not be changed in place.
    """

    def __init__(self, array: Any, budget: int = PAGE_BUDGET):
        self._mapping = mapping_of(array)
        self.budget = budget
        self.spent = 0

    def spend(self, nbytes: int) -> None:
        if self._mapping is None:
            return
        self.spent += nbytes
        if self.spent >= self.budget:
            self.release()

    def spend_rows(self, rows: int, row_bytes: int) -> None:
        """A read of ``rows`` runs of ``row_bytes`` each, apart from one another: each maps
        at least :data:`FAULT_AROUND` bytes."""
        self.spend(rows * max(FAULT_AROUND, row_bytes + mmap.PAGESIZE))

    def release(self) -> None:
        self.spent = 0
        mapping = self._mapping
        if mapping is None or mapping.closed or not hasattr(mmap, "MADV_DONTNEED"):
            return
        mapping.flush()  # written pages go to the file first (nothing to do when read-only)
        mapping.madvise(mmap.MADV_DONTNEED)
