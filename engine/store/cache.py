"""The interaction cache: interactions as dense integer codes, the form training reads.

The cache is derived data. It is saved as ``.npy`` files (no pickle: string vocabularies are
fixed-width unicode arrays) under ``groups/<group>/cache/<fingerprint>/``, where the
fingerprint covers the Interactions segments, the Items segments when present, and the length of
the group's event log (whose rows both datasets include). A cache
whose fingerprint matches is loaded; otherwise it is rebuilt, written to a temporary directory
and renamed into place, so readers build it without taking the writer lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.store.dataset import Dataset, segments_fingerprint
from engine.store.files import atomic_open, fsync_directory

__all__ = ["InteractionCache", "load_or_build_cache"]

logger = logging.getLogger(__name__)

CACHE_DIRECTORY = "cache"
# Columns read dictionary-encoded: they become integer codes.
_CODED = ("USER_ID", "ITEM_ID", "EVENT_TYPE")
_ARRAYS = (
    "user_ids",
    "item_ids",
    "user_indices",
    "item_indices",
    "timestamps",
    "event_types",
    "event_type_names",
    "event_values",
    "log_end",
    "session_ids",
    "session_user_ids",
)


@dataclass(frozen=True, eq=False)
class InteractionCache:
    """Interactions as integer codes into sorted id vocabularies.

    Rows are sorted by timestamp, then user id, item id and event type, so that ties break
    the same way on every build.

    Attributes
    ----------
    user_ids : numpy.ndarray
        Sorted unique ``USER_ID`` values (fixed-width unicode).
    item_ids : numpy.ndarray
        Sorted unique ``ITEM_ID`` values of the Interactions and, if present, Items datasets.
    user_indices, item_indices : numpy.ndarray
        ``int32`` codes of each interaction: ``user_ids[user_indices]`` is its user.
    timestamps : numpy.ndarray
        ``int64`` epoch seconds.
    event_types : numpy.ndarray
        ``int32`` codes into ``event_type_names``.
    event_type_names : tuple of str
        Sorted event types; ``("",)`` when the dataset has no ``EVENT_TYPE`` column.
    event_values : numpy.ndarray
        ``float32``; NaN where the value is null or the column absent.
    fingerprint : str
        The data fingerprint the cache was built from.
    log_end : int
        Bytes of the group's event log included: events past this offset came later.
    session_ids, session_user_ids : numpy.ndarray
        The anonymous sessions joined to a user within those bytes, sorted by session id,
        and the user each is joined to (see :mod:`engine.store.sessions`); their events
        are already counted as the user's.

    Examples
    --------
    >>> cache = group.interaction_cache()  # doctest: +SKIP
    >>> cache.user_ids[cache.user_indices[0]]  # the earliest interaction's user  # doctest: +SKIP
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    user_indices: np.ndarray
    item_indices: np.ndarray
    timestamps: np.ndarray
    event_types: np.ndarray
    event_type_names: tuple[str, ...]
    event_values: np.ndarray
    fingerprint: str
    log_end: int = 0
    session_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.str_))
    session_user_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.str_))

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def num_users(self) -> int:
        """Size of the user vocabulary."""
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        """Size of the item vocabulary."""
        return len(self.item_ids)


def load_or_build_cache(
    group_path: Path, interactions: Dataset, items: Dataset | None
) -> InteractionCache:
    """Load the cache for the datasets' current data, building and saving it if absent.

    Parameters
    ----------
    group_path
        The dataset group's directory.
    interactions
        The group's Interactions dataset.
    items
        The group's Items dataset, if it has one: its ids join the item vocabulary.
    """
    interactions_manifest = interactions.manifest()
    items_manifest = items.manifest() if items is not None else None
    log_end = interactions.event_log.committed_size()
    fingerprint = _fingerprint(interactions_manifest, items_manifest, log_end)
    directory = group_path / CACHE_DIRECTORY / fingerprint
    if directory.is_dir():
        with contextlib.suppress(FileNotFoundError):
            return _load(directory, fingerprint)

    started = time.perf_counter()
    snapshot = _Snapshot(interactions_manifest, items_manifest, log_end)
    cache = _build(interactions, items, snapshot, fingerprint)
    _save(cache, directory)
    logger.info(
        "built interaction cache of %d interactions, %d users, %d items in %.1f s",
        len(cache),
        cache.num_users,
        cache.num_items,
        time.perf_counter() - started,
    )
    return cache


@dataclass(frozen=True)
class _Snapshot:
    """The manifests and log length one build reads, taken together before reading."""

    interactions: dict[str, Any]
    items: dict[str, Any] | None
    log_end: int


def _fingerprint(
    interactions: dict[str, Any], items: dict[str, Any] | None, log_end: int = 0
) -> str:
    """sha256 over the segment lists and the log length the cache is derived from."""
    parts = [segments_fingerprint(interactions["segments"], log_end)]
    if items is not None:
        parts.append(segments_fingerprint(items["segments"], log_end))
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _build(
    interactions: Dataset, items: Dataset | None, snapshot: _Snapshot, fingerprint: str
) -> InteractionCache:
    """Encode the interactions against sorted vocabularies and sort the rows."""
    schema = interactions.schema
    names = [field.name for field in schema.fields]
    coded = [schema.field(name).name for name in _CODED if schema.has_field(name)]
    table = interactions.read_snapshot(snapshot.interactions, names, snapshot.log_end, coded)
    users = table.column(schema.field("USER_ID").name)
    items_column = table.column(schema.field("ITEM_ID").name)

    user_ids = _sorted_vocabulary([users])
    catalogue = [items_column]
    if items is not None and snapshot.items is not None:
        item_field = items.schema.field("ITEM_ID").name
        catalogue.append(
            items.read_snapshot(snapshot.items, [item_field], snapshot.log_end).column(0)
        )
    item_ids = _sorted_vocabulary(catalogue)
    event_type_names, event_types = _event_types(table, interactions)
    joins = sorted(interactions.event_log.session_joins(snapshot.log_end).items())

    arrays = {
        "user_indices": _codes(users, user_ids),
        "item_indices": _codes(items_column, item_ids),
        "timestamps": table.column(schema.field("TIMESTAMP").name).to_numpy().astype(np.int64),
        "event_types": event_types,
        "event_values": _event_values(table, interactions),
    }
    order = _row_order(
        [arrays[name] for name in ("timestamps", "user_indices", "item_indices", "event_types")]
    )
    return InteractionCache(
        user_ids=_unicode(user_ids),
        item_ids=_unicode(item_ids),
        event_type_names=event_type_names,
        fingerprint=fingerprint,
        log_end=snapshot.log_end,
        session_ids=np.array([session for session, _ in joins], dtype=np.str_),
        session_user_ids=np.array([user for _, user in joins], dtype=np.str_),
        **{name: array[order] for name, array in arrays.items()},
    )


def _sorted_vocabulary(columns: list[pa.ChunkedArray]) -> pa.Array:
    """Sorted distinct values of the columns together (plain or dictionary-encoded)."""
    chunks = [chunk for column in columns for chunk in _values(column)]
    distinct = pc.unique(pa.chunked_array(chunks, pa.string()))
    return pc.take(distinct, pc.sort_indices(distinct))


def _values(column: pa.ChunkedArray) -> list[pa.Array]:
    """Arrays holding the column's values: its chunks, or the dictionary entries rows use."""
    if not pa.types.is_dictionary(column.type):
        return list(column.chunks)
    used: dict[tuple[int, ...], tuple[pa.Array, np.ndarray]] = {}
    for chunk in column.chunks:
        dictionary, seen = used.setdefault(
            _dictionary_key(chunk), (chunk.dictionary, np.zeros(len(chunk.dictionary), bool))
        )
        seen[_indices(chunk)] = True
    return [dictionary.filter(pa.array(seen)) for dictionary, seen in used.values()]


def _codes(values: pa.ChunkedArray, vocabulary: pa.Array) -> np.ndarray:
    """Position of each value in ``vocabulary``, as int32.

    A dictionary-encoded column looks up each of its dictionaries once (Parquet keeps one
    per row group) and spreads the positions over the rows, instead of looking up every
    row's string.
    """
    if not pa.types.is_dictionary(values.type):
        return _positions(values, vocabulary)
    positions: dict[tuple[int, ...], np.ndarray] = {}
    parts = [np.empty(0, np.int32)]
    for chunk in values.chunks:
        key = _dictionary_key(chunk)
        if key not in positions:
            positions[key] = _positions(chunk.dictionary, vocabulary)
        parts.append(positions[key][_indices(chunk)])
    return np.concatenate(parts)


def _dictionary_key(chunk: pa.DictionaryArray) -> tuple[int, ...]:
    """The same for chunks that share one dictionary: where its buffers are, and its span."""
    dictionary = chunk.dictionary
    addresses = tuple(buffer.address for buffer in dictionary.buffers() if buffer is not None)
    return (*addresses, dictionary.offset, len(dictionary))


def _positions(values: pa.Array | pa.ChunkedArray, vocabulary: pa.Array) -> np.ndarray:
    return np.asarray(pc.index_in(values, value_set=vocabulary).to_numpy(), dtype=np.int32)


def _indices(chunk: pa.DictionaryArray) -> np.ndarray:
    return np.asarray(chunk.indices.to_numpy(zero_copy_only=False))


def _row_order(keys: list[np.ndarray]) -> np.ndarray:
    """The stable order of the rows by ``keys``, the first key most significant.

    Where the keys' ranges fit in 64 bits together (timestamps over a century, millions of
    users and items), they are packed into one integer per row and sorted once, which takes
    a fraction of the time of a sort per key.
    """
    if keys[0].size == 0:
        return np.arange(0)
    packed = _packed(keys)
    if packed is not None:
        # numpy's stable sort (timsort here) finds the runs of rows logged in time order: a
        # tenth of pyarrow's sort time on such logs, and a fifth less on shuffled rows.
        return np.argsort(packed, kind="stable")
    table = pa.table({str(position): key for position, key in enumerate(keys)})
    sort_keys = [(name, "ascending") for name in table.column_names]
    return np.asarray(pc.sort_indices(table, sort_keys=sort_keys).to_numpy())


def _packed(keys: list[np.ndarray]) -> np.ndarray | None:
    """Each row's keys side by side in one uint64, or ``None`` when they need more bits."""
    lowest = [int(key.min()) for key in keys]
    widths = [(int(key.max()) - low).bit_length() for key, low in zip(keys, lowest, strict=True)]
    if sum(widths) > 64:
        return None
    packed = np.zeros(keys[0].size, np.uint64)
    for key, low, width in zip(keys, lowest, widths, strict=True):
        packed <<= np.uint64(width)
        packed |= (key - low).astype(np.uint64)
    return packed


def _unicode(values: pa.Array) -> np.ndarray:
    """A fixed-width unicode numpy array, which ``np.save`` stores without pickle."""
    return np.array(values.to_pylist(), dtype=np.str_)


def _event_types(table: pa.Table, interactions: Dataset) -> tuple[tuple[str, ...], np.ndarray]:
    """Sorted event type names and the code of each row; one empty name without the column."""
    if not interactions.schema.has_field("EVENT_TYPE"):
        return ("",), np.zeros(table.num_rows, dtype=np.int32)
    column = table.column(interactions.schema.field("EVENT_TYPE").name)
    vocabulary = _sorted_vocabulary([column])
    return tuple(vocabulary.to_pylist()), _codes(column, vocabulary)


def _event_values(table: pa.Table, interactions: Dataset) -> np.ndarray:
    """EVENT_VALUE as float32 with NaN for nulls, or all NaN without the column."""
    if not interactions.schema.has_field("EVENT_VALUE"):
        return np.full(table.num_rows, np.nan, dtype=np.float32)
    column = table.column(interactions.schema.field("EVENT_VALUE").name)
    filled = pc.fill_null(pc.cast(column, pa.float32()), float("nan"))
    return np.asarray(filled.to_numpy(), dtype=np.float32)


def _save(cache: InteractionCache, directory: Path) -> None:
    """Write the arrays to a temporary directory, rename it into place, drop stale caches."""
    building = directory.parent / f".building-{uuid.uuid4().hex}"
    building.mkdir(parents=True)
    try:
        for name in _ARRAYS:
            value = getattr(cache, name)
            array = _unicode(pa.array(value)) if name == "event_type_names" else np.asarray(value)
            with atomic_open(building / f"{name}.npy") as stream:
                np.save(stream, array, allow_pickle=False)
        building.rename(directory)
        fsync_directory(directory.parent)
    except OSError:
        # Another reader saved the same cache first, or the disk refused: the cache is optional.
        logger.debug("cache not saved to %s", directory, exc_info=True)
        shutil.rmtree(building, ignore_errors=True)
        return
    _remove_stale(directory)


def _remove_stale(current: Path) -> None:
    """Remove cache directories of earlier fingerprints."""
    for path in current.parent.iterdir():
        if path != current and not path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)


def _load(directory: Path, fingerprint: str) -> InteractionCache:
    """Load a saved cache; ``allow_pickle=False`` so loading never runs code."""
    arrays = {name: np.load(directory / f"{name}.npy", allow_pickle=False) for name in _ARRAYS}
    names = tuple(str(name) for name in arrays.pop("event_type_names"))
    log_end = int(arrays.pop("log_end"))
    return InteractionCache(
        event_type_names=names, fingerprint=fingerprint, log_end=log_end, **arrays
    )
