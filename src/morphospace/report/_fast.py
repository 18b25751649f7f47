"""Speed shortcuts of the page's columns, each beside the library call it stands in for.

| shortcut | stands in for |
|---|---|
| :func:`encode_text` | ``pandas.factorize(..., sort=True)`` and a join of ``str`` values |

The library version is kept here too (:data:`LIBRARY`): the tests check that both give
the same results on varied columns.

The explorer's first paint sends the ids of every object. A million ids through pandas'
factorize (which sorts every distinct value) and a Python join take about a second, most
of the time to the first paint; Arrow's compute functions count, encode and join them in
C, in about a tenth of that. A column that is not all text (numbers and names mixed, say)
takes the library's route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["LIBRARY", "encode_text", "library_encode_text"]

#: A text column: int32 codes into its names sorted (-1 for none), or its values one a line.
Encoded = tuple[np.ndarray, list[str]] | str


def encode_text(values: pd.Series, max_names: int) -> Encoded:
    """The column as codes into its distinct values sorted by code point, when it has at
    most ``max_names`` of them (and no more than half the rows); else its values one a
    line ("" for none, a newline inside a value as a space)."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return library_encode_text(values, max_names)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return library_encode_text(values, max_names)
    if isinstance(array, pa.ChunkedArray):  # a column read from Parquet
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    limit = min(max_names, len(values) // 2)
    # more distinct values in the first rows than the limit settles it without a pass
    # over a million ids
    few = pc.count_distinct(array.slice(0, 2 * limit + 1)).as_py() <= limit
    if few and pc.count_distinct(array).as_py() <= limit:
        encoded = array.dictionary_encode()
        names = encoded.dictionary.to_pylist()
        order = sorted(range(len(names)), key=names.__getitem__)
        rank = np.empty(len(names) + 1, dtype="<i4")
        rank[order], rank[-1] = np.arange(len(names)), -1  # a missing value is -1
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return rank[codes], [names[k] for k in order]
    text = pc.fill_null(pc.replace_substring(array, "\n", " "), "")
    whole = pa.LargeListArray.from_arrays(pa.array([0, len(text)], pa.int64()), text)
    return pc.binary_join(whole, pa.scalar("\n", pa.large_string()))[0].as_py()


def library_encode_text(values: pd.Series, max_names: int) -> Encoded:
    """:func:`encode_text` by pandas: any values, each as its ``str``."""
    text = values.astype(object).where(values.notna(), None)
    codes, names = pd.factorize(text.map(lambda v: v if v is None else str(v)), sort=True)
    if len(names) <= min(max_names, len(values) // 2):  # names repeat: codes
        return codes.astype("<i4"), [str(v) for v in names]
    return "\n".join("" if v is None else str(v).replace("\n", " ") for v in text.tolist())


#: The library version of each shortcut, for the tests.
LIBRARY: dict[str, Callable[..., Any]] = {"encode_text": library_encode_text}
