"""What filters read at serving time, kept current as the dataset group changes.

A campaign's filters need the group's data, not only the artifact: the Items columns, the
requesting user's Users row and the user's whole event history. :class:`ServingData` reads
each part the first time a filter needs it and keeps it until it changes:

* an import replaces a dataset's segments: its manifest's stamp changes
  (:meth:`~engine.store.DatasetGroup.dataset_stamps`, one ``stat`` per dataset);
* ``put_events``, ``put_users`` and ``put_items`` append to the group's event log: the new lines
  are read on the next request (one ``stat`` when there are none). New events join the users'
  histories at once; new Users or Items rows make that part be read again.

Item masks of filters that depend on neither the user nor the current item are cached per
filter and values (least recently used first out), and dropped when the Items data changes.

User-segment (``UserID``) filters are evaluated into user masks, over the users a batch
segment job ranks, by :meth:`ServingData.user_mask`: the Users columns aligned to those users
are kept until the Users data changes, and which event types each user has interactions of
(training data and logged events, as for item filters) until new events arrive.

Limitation: an item that is not in the campaign's catalogue (one added after its version was
trained) cannot be returned, so no filter can let it through.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import InvalidInputError
from engine.filter_store import Filter, filter_path, get_filter
from engine.filters import (
    EventTypes,
    FilterContext,
    FilterExpression,
    SegmentContext,
    columns_from_table,
)
from engine.store import DatasetGroup, InteractionCache
from engine.store.event_log import EventLog

__all__ = ["MASK_CACHE_SIZE", "ServingData", "group_of"]

logger = logging.getLogger(__name__)

MASK_CACHE_SIZE = 256
_PARTS = ("INTERACTIONS", "USERS", "ITEMS")

Events = tuple[np.ndarray, np.ndarray]


class ServingData:
    """The group data a campaign's filters read, refreshed when it changes.

    Parameters
    ----------
    group : DatasetGroup
        The campaign's dataset group.
    item_ids : numpy.ndarray
        The campaign's catalogue, in its item-index order; masks are aligned to it.

    Examples
    --------
    >>> data = ServingData(group, campaign_item_ids)  # doctest: +SKIP
    >>> mask = data.item_mask(get_filter(group, "no-horror").expression, None)  # doctest: +SKIP
    """

    def __init__(self, group: DatasetGroup, item_ids: np.ndarray) -> None:
        self.group = group
        self.item_ids = np.asarray(item_ids)
        self._item_index = {str(item): index for index, item in enumerate(self.item_ids.tolist())}
        self._log = EventLog(group.path)
        self._lock = threading.RLock()
        self._masks: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._filters: dict[str, tuple[tuple[int, int], Filter]] = {}
        self._filter_paths: dict[str, str] = {}
        self._reset()

    def _reset(self) -> None:
        self._offset = self._log.committed_size()
        self._stamps = self.group.dataset_stamps()
        self._catalogue: FilterContext | None = None
        self._users: _UsersTable | None = None
        self._histories: _Histories | None = None
        self._segment: SegmentContext | None = None
        self._segment_events: tuple[np.ndarray, _Histories, int, EventTypes] | None = None
        self._masks.clear()

    # Change detection.

    def refresh(self) -> None:
        """Take in imports and logged rows since the last call; cheap when there are none."""
        stamps = self.group.dataset_stamps()
        size = self._log.size()
        if stamps == self._stamps and size <= self._offset:
            return
        with self._lock:
            if size < self._offset:
                logger.info("event log of %s shrank; reading the group's data again", self.group)
                self._reset()
                return
            for part in _PARTS:
                if stamps[part] != self._stamps[part]:
                    self._forget(part)
            self._stamps = stamps
            records, self._offset = self._log.read(self._offset)
            self._take_records(records)

    def _take_records(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            if record["dataset"] == "INTERACTIONS" and self._histories is not None:
                self._histories.add(record["rows"])
            elif record["dataset"] in ("USERS", "ITEMS"):
                self._forget(record["dataset"])

    def _forget(self, part: str) -> None:
        logger.debug("%s of %s changed; it is read again when a filter needs it", part, self.group)
        if part == "ITEMS":
            self._catalogue = None
            self._masks.clear()
        elif part == "USERS":
            self._users = None
            self._segment = None
        else:
            self._histories = None

    # Filters by name.

    def resolve(self, chosen: Filter | str) -> Filter:
        """The filter named ``chosen`` (read again only when its file changes), or ``chosen``.

        Raises
        ------
        NotFoundError
            The group has no filter of that name.
        InvalidInputError
            A :class:`Filter` of another dataset group.
        """
        if isinstance(chosen, Filter):
            if chosen.dataset_group != self.group.name:
                raise InvalidInputError(
                    f"filter {chosen.name!r} belongs to dataset group {chosen.dataset_group!r}, "
                    f"not {self.group.name!r}"
                )
            return chosen
        if not isinstance(chosen, str):
            raise InvalidInputError(f"a filter is a Filter or a filter name, got {chosen!r}")
        return self._named(chosen)

    def _named(self, name: str) -> Filter:
        path = self._filter_paths.get(name)
        if path is None:
            path = self._filter_paths.setdefault(name, str(filter_path(self.group, name)))
        try:
            found = os.stat(path)
        except (FileNotFoundError, ValueError):
            return get_filter(self.group, name)  # raises NotFoundError with the group's name
        stamp = (found.st_ino, found.st_mtime_ns)
        cached = self._filters.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, get_filter(self.group, name))
            self._filters[name] = cached
        return cached[1]

    # Masks.

    def item_mask(
        self,
        expression: FilterExpression,
        values: Mapping[str, str] | None,
        user_id: str | None = None,
        current_item: int | None = None,
        refresh: bool = True,
    ) -> np.ndarray:
        """Which catalogue items ``expression`` lets through for this request (read-only).

        ``refresh=False`` skips looking for changed data, for a caller that has just called
        :meth:`refresh` and asks for many masks at once.

        Raises
        ------
        InvalidInputError
            Bad values, or the filter cannot be evaluated on the data (see
            :meth:`engine.filters.FilterExpression.item_mask`).
        """
        if refresh:
            self.refresh()
        expression.check_values(values)  # before the cache, which keys on known names only
        key: tuple[Any, ...] | None = None
        if not expression.depends_on_user:
            shown = current_item if expression.depends_on_current_item else None
            key = (*expression.cache_key(values), shown)
            cached = self._cached(key)
            if cached is not None:
                return cached

        mask = expression.item_mask(self._context(expression, user_id, current_item), values)
        mask.setflags(write=False)
        if key is not None:
            self._remember(key, mask)
        return mask

    def user_mask(
        self,
        expression: FilterExpression,
        values: Mapping[str, str] | None,
        user_ids: np.ndarray,
        refresh: bool = True,
    ) -> np.ndarray:
        """Which of ``user_ids`` a user-segment (``UserID``) expression lets through (read-only).

        Parameters
        ----------
        expression : FilterExpression
            A ``UserID`` filter's expression.
        values : Mapping[str, str] or None
            Its placeholder values.
        user_ids : numpy.ndarray
            The users to select from; pass the same array for many masks, so that the Users
            columns are aligned to it once.
        refresh : bool
            As for :meth:`item_mask`.

        Raises
        ------
        InvalidInputError
            Bad values, an ``ItemID`` expression, or one that cannot be evaluated (see
            :meth:`engine.filters.FilterExpression.user_mask`).
        """
        if refresh:
            self.refresh()
        mask = expression.user_mask(self._segment_context(expression, user_ids), values)
        mask.setflags(write=False)
        return mask

    def _segment_context(
        self, expression: FilterExpression, user_ids: np.ndarray
    ) -> SegmentContext:
        with self._lock:
            if self._segment is None or self._segment.user_ids is not user_ids:
                self._segment = SegmentContext(user_ids, self._users_columns(user_ids))
            segment = self._segment
        if "INTERACTIONS" not in expression.fields:
            return segment
        return segment.with_events(self._event_types(user_ids))

    def _users_columns(self, user_ids: np.ndarray) -> dict[str, list[Any]]:
        if self._stamps["USERS"] is None:
            return {}
        table = self.group.dataset("USERS").read_table()
        return columns_from_table(table, user_ids, "USER_ID")

    def _event_types(self, user_ids: np.ndarray) -> EventTypes:
        """Which event types each of ``user_ids`` has interactions of, kept until new events."""
        with self._lock:
            if self._histories is None:
                self._histories = self._load_histories()
            histories = self._histories
            cached = self._segment_events
            if (
                cached is not None
                and cached[0] is user_ids
                and cached[1] is histories
                and cached[2] == histories.revision
            ):
                return cached[3]
            event_types = histories.event_types(user_ids)
            self._segment_events = (user_ids, histories, histories.revision, event_types)
            return event_types

    def _cached(self, key: tuple[Any, ...]) -> np.ndarray | None:
        with self._lock:
            cached = self._masks.get(key)
            if cached is not None:
                self._masks.move_to_end(key)
            return cached

    def _remember(self, key: tuple[Any, ...], mask: np.ndarray) -> None:
        with self._lock:
            self._masks[key] = mask
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)

    def _context(
        self, expression: FilterExpression, user_id: str | None, current_item: int | None
    ) -> FilterContext:
        fields = expression.fields
        users = self._user_row(user_id) if "USERS" in fields else None
        events = self._user_events(user_id) if "INTERACTIONS" in fields else None
        return self._catalogue_context().for_request(users, events, current_item)

    def _catalogue_context(self) -> FilterContext:
        with self._lock:
            if self._catalogue is None:
                self._catalogue = FilterContext(self.item_ids, self._items_columns())
            return self._catalogue

    def _items_columns(self) -> dict[str, list[Any]]:
        if self._stamps["ITEMS"] is None:
            return {}
        started = time.perf_counter()
        table = self.group.dataset("ITEMS").read_table()
        columns = columns_from_table(table, self.item_ids)
        logger.info(
            "read %d Items rows for filters in %.2f s",
            table.num_rows,
            time.perf_counter() - started,
        )
        return columns

    def _user_row(self, user_id: str | None) -> dict[str, Any] | None:
        if user_id is None or self._stamps["USERS"] is None:
            return None
        with self._lock:
            if self._users is None:
                self._users = _UsersTable(self.group.dataset("USERS").read_table())
            users = self._users
        return users.row(user_id)

    def _user_events(self, user_id: str | None) -> Events | None:
        if user_id is None:
            return None
        with self._lock:
            if self._histories is None:
                self._histories = self._load_histories()
            histories = self._histories
        return histories.events(user_id)

    def _load_histories(self) -> _Histories:
        histories = _Histories(self.group.interaction_cache(), self._item_index)
        # The cache may stop short of what this object has read of the log: catch up.
        records, _ = self._log.read(histories.log_end, max(self._offset, histories.log_end))
        for record in records:
            if record["dataset"] == "INTERACTIONS":
                histories.add(record["rows"])
        return histories


class _UsersTable:
    """The Users rows, found by id."""

    def __init__(self, table: pa.Table) -> None:
        id_column = next(name for name in table.column_names if name.upper() == "USER_ID")
        self._table = table.drop_columns([id_column])
        ids = table.column(id_column).to_pylist()
        self._rows = {str(user): row for row, user in enumerate(ids)}

    def row(self, user_id: str) -> dict[str, Any] | None:
        """The user's row (column -> value), or None when the user has none."""
        row = self._rows.get(str(user_id))
        return None if row is None else self._table.slice(row, 1).to_pylist()[0]


class _Histories:
    """Every user's events as (catalogue index, event type), from the cache and the log."""

    def __init__(self, cache: InteractionCache, item_index: Mapping[str, int]) -> None:
        started = time.perf_counter()
        order = np.argsort(cache.user_indices, kind="stable")
        counts = np.bincount(cache.user_indices, minlength=cache.num_users)
        self._indptr = np.concatenate(([0], np.cumsum(counts)))
        to_catalogue = np.array([item_index.get(str(i), -1) for i in cache.item_ids], np.int64)
        self._items = to_catalogue[cache.item_indices[order]]
        self._types = np.asarray(cache.event_types[order])
        self._type_names = np.array(cache.event_type_names, dtype=object)
        self._user_ids = cache.user_ids
        self._item_index = item_index
        self._live: dict[str, tuple[list[int], list[str]]] = {}
        self.log_end = cache.log_end
        self.revision = 0  # counts the calls to add
        logger.info(
            "indexed %d interactions of %d users for filters in %.2f s",
            len(cache),
            cache.num_users,
            time.perf_counter() - started,
        )

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Add logged event rows (column names in any case)."""
        self.revision += 1
        for row in rows:
            upper = {str(key).upper(): value for key, value in row.items()}
            items, types = self._live.setdefault(str(upper["USER_ID"]), ([], []))
            items.append(self._item_index.get(str(upper["ITEM_ID"]), -1))
            types.append(str(upper.get("EVENT_TYPE") or ""))

    def events(self, user_id: str) -> Events:
        """The user's item indices (-1 outside the catalogue) and event types, oldest first."""
        position = int(np.searchsorted(self._user_ids, user_id))
        span = slice(0, 0)
        if position < self._user_ids.size and self._user_ids[position] == user_id:
            span = slice(int(self._indptr[position]), int(self._indptr[position + 1]))
        items = self._items[span]
        types = self._type_names[self._types[span]]
        live_items, live_types = self._live.get(user_id, ([], []))
        if live_items:
            items = np.concatenate((items, np.asarray(live_items, np.int64)))
            types = np.concatenate((types, np.asarray(live_types, dtype=object)))
        return items, types

    def event_types(self, user_ids: np.ndarray) -> EventTypes:
        """The distinct (user, event type) pairs of ``user_ids``' histories.

        Row ``k`` of the answer: user ``user_ids[rows[k]]`` has an interaction of type
        ``names[codes[k]]``; users outside ``user_ids`` are left out.
        """
        row_of = {str(user): row for row, user in enumerate(np.asarray(user_ids).tolist())}
        to_rows = np.array([row_of.get(str(user), -1) for user in self._user_ids], np.int64)
        owners = np.repeat(np.arange(to_rows.size), np.diff(self._indptr))
        rows, codes = to_rows[owners], np.asarray(self._types, np.int64)

        code_of = {str(name): code for code, name in enumerate(self._type_names.tolist())}
        live = [
            (row_of[user], code_of.setdefault(event_type, len(code_of)))
            for user, (_, types) in self._live.items()
            if user in row_of
            for event_type in set(types)
        ]
        if live:
            live_rows, live_codes = np.array(live, np.int64).T
            rows, codes = np.concatenate((rows, live_rows)), np.concatenate((codes, live_codes))

        width = max(1, len(code_of))
        pairs = np.unique(rows[rows >= 0] * width + codes[rows >= 0])
        return pairs // width, pairs % width, np.array(list(code_of), dtype=object)


def group_of(version_path: Path) -> DatasetGroup:
    """The dataset group of a solution version stored at ``version_path``.

    A version lives in ``<root>/groups/<group>/solutions/<solution>/<version>``.
    """
    group_path = version_path.parents[2]
    return DatasetGroup(group_path.parents[1], group_path.name)
