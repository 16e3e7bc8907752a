"""Finding rows identical in every column, fast when there are few.

Grouping a million rows by every column is slow, and most files have no duplicates at all.
So each row first gets a 64-bit hash mixed from per-column integer codes; rows whose hash is
unique cannot have a duplicate. Only rows sharing a hash (true duplicates, or rare
collisions) are compared exactly, by grouping that small subset.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["duplicate_positions"]

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def duplicate_positions(table: pa.Table) -> np.ndarray:
    """Positions of rows equal in every column to an earlier row, in increasing order.

    Examples
    --------
    >>> duplicate_positions(pa.table({"a": ["x", "y", "x"], "b": [1, 2, 1]})).tolist()
    [2]
    """
    hashes = row_hashes(table)
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    if shared.size == 0:
        return np.empty(0, dtype=np.int64)

    candidates = np.flatnonzero(np.isin(hashes, shared))
    return candidates[_later_copies(table.take(pa.array(candidates)))]


def row_hashes(table: pa.Table) -> np.ndarray:
    """A 64-bit hash per row; equal rows have equal hashes."""
    hashes = np.zeros(table.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in table.columns:
            hashes = hashes * _MULTIPLIER ^ _column_codes(column)
    return hashes


def _column_codes(column: pa.ChunkedArray) -> np.ndarray:
    """An integer per value, equal for equal values (nulls distinct from every value)."""
    if pa.types.is_floating(column.type):
        values = pc.fill_null(pc.cast(column, pa.float64()), 0.0).to_numpy()
        codes = values.view(np.uint64).copy()
    elif pa.types.is_integer(column.type):
        codes = pc.fill_null(column, 0).to_numpy().astype(np.uint64)
    else:
        encoded = pc.dictionary_encode(column).combine_chunks()
        codes = pc.fill_null(encoded.indices, 0).to_numpy().astype(np.uint64)
    if column.null_count:
        nulls = pc.is_null(column).to_numpy(zero_copy_only=False).astype(np.uint64)
        codes = codes * np.uint64(2) + nulls
    return codes


def _later_copies(subset: pa.Table) -> np.ndarray:
    """Positions within ``subset`` of rows equal to an earlier row of it."""
    positions = pa.array(np.arange(subset.num_rows, dtype=np.int64))
    keyed = subset.append_column("__position", positions)
    first = keyed.group_by(subset.column_names, use_threads=False).aggregate(
        [("__position", "min")]
    )
    keep = np.zeros(subset.num_rows, dtype=bool)
    keep[first.column("__position_min").to_numpy()] = True
    return np.flatnonzero(~keep)
