"""What a filter is evaluated against: the rows it selects from, and what a request adds.

An item filter (``ItemID``) selects catalogue items: a :class:`FilterContext` holds the Items
columns, and the requesting user and the current item. A user-segment filter (``UserID``)
selects users: a :class:`SegmentContext` holds the Users columns and which event types each
user has interactions of. Either way the rows' columns are a :class:`Rows`, normalized once
(and shared by the contexts :meth:`FilterContext.for_request` derives) into one of three kinds:

* numeric: ints and floats, compared as numbers; missing values are NaN;
* boolean: ``True``/``False``, matched as the strings ``"true"``/``"false"``;
* categorical: anything else, as strings; ``"a|b"`` holds the two values ``a`` and ``b``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from engine.errors import InvalidInputError

__all__ = [
    "Column",
    "EventTypes",
    "FilterContext",
    "Rows",
    "SegmentContext",
    "columns_from_table",
    "row_from_table",
]

Kind = Literal["numeric", "boolean", "categorical"]
ITEM_ID = "ITEM_ID"
USER_ID = "USER_ID"

# (row indices, event-type codes, event-type names): row ``rows[k]`` has an interaction of
# type ``names[codes[k]]``; pairs may repeat.
EventTypes = tuple[np.ndarray, np.ndarray, np.ndarray]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _kind_of(values: np.ndarray) -> Kind:
    if values.dtype.kind == "b":
        return "boolean"
    if values.dtype.kind in "iuf":
        return "numeric"
    present = [value for value in values.tolist() if not _is_missing(value)]
    if present and all(isinstance(value, bool | np.bool_) for value in present):
        return "boolean"
    if present and all(_is_number(value) for value in present):
        return "numeric"
    return "categorical"


@dataclass(frozen=True, eq=False)
class Column:
    """One field normalized for matching.

    ``numbers`` holds the numeric values (NaN when missing); ``index`` maps each categorical
    or boolean value to the rows holding it; ``raw`` keeps the values as given.
    """

    name: str
    kind: Kind
    numbers: np.ndarray
    index: Mapping[str, np.ndarray]
    raw: np.ndarray

    @classmethod
    def build(cls, name: str, values: Any) -> Column:
        """Normalize one column of per-row values (a list, numpy or pyarrow array)."""
        array = _as_object_array(values)
        kind = _kind_of(array)
        if kind == "numeric":
            numbers = np.array([np.nan if _is_missing(v) else v for v in array], dtype=float)
            return cls(name, kind, numbers, {}, array)
        return cls(name, kind, np.empty(0), _inverted_index(array, kind), array)

    @property
    def size(self) -> int:
        """Number of rows."""
        return int(self.raw.size)

    def row_values(self, row: int) -> list[str | float]:
        """The values of one row: a number, or the categorical values; empty when missing."""
        if self.kind == "numeric":
            number = float(self.numbers[row])
            return [] if math.isnan(number) else [number]
        return list(_tokens(self.raw[row], self.kind))


def _as_object_array(values: Any) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_pylist()
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array
    return np.asarray(values, dtype=object).reshape(-1)


def _inverted_index(array: np.ndarray, kind: Kind) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = {}
    for row, value in enumerate(array.tolist()):
        for token in _tokens(value, kind):
            rows.setdefault(token, []).append(row)
    return {token: np.array(indices, dtype=np.int64) for token, indices in rows.items()}


def _tokens(value: Any, kind: Kind) -> list[str]:
    if _is_missing(value):
        return []
    if kind == "boolean":
        return [str(bool(value)).lower()]
    return [token for token in str(value).split("|") if token != ""]


@dataclass(eq=False)
class Rows:
    """The rows a filter selects from: their ids and their dataset's columns.

    Parameters
    ----------
    ids : numpy.ndarray
        The rows' ids (items or users), in the order masks are aligned to.
    columns : Mapping[str, array-like]
        The dataset's columns (name -> one value per row, aligned to ``ids``). Multi-valued
        categorical values are ``|``-joined strings; missing is None or NaN.
    id_field : str
        The id column's name, ``ITEM_ID`` or ``USER_ID``: always a field, the ids themselves
        when ``columns`` has no such column.

    Examples
    --------
    >>> Rows(np.array(["u1", "u2"]), {"AGE": [30, None]}, "USER_ID").column("age", "Users.age").kind
    'numeric'
    """

    ids: np.ndarray
    columns: Mapping[str, Any]
    id_field: str
    _normalized: dict[str, Column] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        """Number of rows."""
        return int(len(self.ids))

    def column(self, name: str, label: str) -> Column:
        """The column ``name`` (any case), normalized once and cached."""
        key = name.upper()
        if key not in self._normalized:
            self._normalized[key] = self._build(name, label)
        return self._normalized[key]

    def _build(self, name: str, label: str) -> Column:
        names = {str(column).upper() for column in self.columns}
        if name.upper() == self.id_field and self.id_field not in names:
            return Column.build(self.id_field, np.asarray(self.ids, dtype=object))
        actual = _find_column(self.columns, name, label)
        column = Column.build(actual, self.columns[actual])
        if column.size != self.size:
            noun = self.id_field.split("_")[0].lower() + "s"
            raise InvalidInputError(
                f"{noun} column {actual} has {column.size} values for {self.size} {noun}"
            )
        return column


def _coded(user_events: tuple[np.ndarray, np.ndarray]) -> EventTypes:
    """One user's (item indices, event types) as :data:`EventTypes`."""
    indices, event_types = (np.asarray(part).reshape(-1) for part in user_events)
    code_of: dict[str, int] = {}
    codes = [code_of.setdefault(str(event), len(code_of)) for event in event_types.tolist()]
    names = np.array(list(code_of), dtype=object)
    return indices.astype(np.int64), np.array(codes, dtype=np.int64), names


@dataclass
class FilterContext:
    """The data one item filter evaluation sees; the filter module itself never reads the store.

    Parameters
    ----------
    item_ids : numpy.ndarray
        The catalogue, in the campaign's item-index order; masks are aligned to it.
    items : Mapping[str, array-like]
        Items dataset columns (name -> one value per item, aligned to ``item_ids``).
        Multi-valued categorical values are ``|``-joined strings; missing is None or NaN.
    users : Mapping[str, Any] or None
        The requesting user's Users row (column -> value); None when unknown.
    user_events : tuple of (numpy.ndarray, numpy.ndarray) or None
        The requesting user's whole history: item indices and their event types.
    current_item : int or None
        Index of the request's item (related-items requests).

    Examples
    --------
    >>> context = FilterContext(np.array(["a", "b"]), {"GENRES": ["x|y", None]})
    >>> context.for_request(current_item=0).current_item
    0
    """

    item_ids: np.ndarray
    items: Mapping[str, Any] = field(default_factory=dict)
    users: Mapping[str, Any] | None = None
    user_events: tuple[np.ndarray, np.ndarray] | None = None
    current_item: int | None = None
    rows: Rows = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rows = Rows(self.item_ids, self.items, ITEM_ID)

    @property
    def num_items(self) -> int:
        """Size of the catalogue."""
        return int(len(self.item_ids))

    @property
    def num_rows(self) -> int:
        """Size of the masks: the catalogue's."""
        return self.num_items

    def for_request(
        self,
        users: Mapping[str, Any] | None = None,
        user_events: tuple[np.ndarray, np.ndarray] | None = None,
        current_item: int | None = None,
    ) -> FilterContext:
        """A context for one request that shares this one's catalogue and normalized columns."""
        derived = FilterContext(self.item_ids, self.items, users, user_events, current_item)
        derived.rows = self.rows
        return derived

    def row_events(self) -> EventTypes | None:
        """The items of the requesting user's interactions and their types."""
        return None if self.user_events is None else _coded(self.user_events)

    def item_column(self, name: str, label: str) -> Column:
        """The Items column ``name`` (any case), normalized once and cached.

        ``ITEM_ID`` is the catalogue's ids when ``items`` has no such column.
        """
        return self.rows.column(name, label)

    def user_column(self, name: str, label: str) -> Column:
        """The requesting user's value of ``name`` as a one-row column."""
        if self.users is None:
            return Column.build(name, [None])
        actual = _find_column(self.users, name, label)
        return Column.build(actual, [self.users[actual]])


@dataclass
class SegmentContext:
    """The data one user-segment (``UserID``) filter evaluation sees.

    Parameters
    ----------
    user_ids : numpy.ndarray
        The users to select from, in the solution version's user-index order; masks are
        aligned to it.
    users : Mapping[str, array-like]
        Users dataset columns, aligned to ``user_ids`` (see :func:`columns_from_table`).
    event_types : EventTypes or None
        Which event types each user has interactions of: (user indices, type codes, type
        names). None: no user has any.

    Examples
    --------
    >>> context = SegmentContext(np.array(["u1", "u2"]), {"AGE": [30, 15]})
    >>> context.rows.column("AGE", "Users.AGE").numbers
    array([30., 15.])
    """

    user_ids: np.ndarray
    users: Mapping[str, Any] = field(default_factory=dict)
    event_types: EventTypes | None = None
    rows: Rows = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rows = Rows(self.user_ids, self.users, USER_ID)

    @property
    def num_rows(self) -> int:
        """Size of the masks: the number of users."""
        return int(len(self.user_ids))

    def row_events(self) -> EventTypes | None:
        """The users' event types."""
        return self.event_types

    def with_events(self, event_types: EventTypes | None) -> SegmentContext:
        """A context with these event types that shares this one's users and normalized columns."""
        derived = SegmentContext(self.user_ids, self.users, event_types)
        derived.rows = self.rows
        return derived


def _find_column(columns: Mapping[str, Any], name: str, label: str) -> str:
    by_upper = {str(column).upper(): str(column) for column in columns}
    if name.upper() not in by_upper:
        known = ", ".join(sorted(by_upper.values())) or "none"
        raise InvalidInputError(f"the filter uses {label}, a field that does not exist ({known})")
    return by_upper[name.upper()]


def columns_from_table(
    table: pa.Table, item_ids: np.ndarray, id_column: str = "ITEM_ID"
) -> dict[str, list[Any]]:
    """Align an Items table to the catalogue order, for :attr:`FilterContext.items`.

    Items without a row get None in every column; rows of ids outside the catalogue are
    ignored.

    Examples
    --------
    >>> table = pa.table({"ITEM_ID": ["b", "a"], "PRICE": [2.0, 1.0]})
    >>> columns_from_table(table, np.array(["a", "b", "c"]))
    {'PRICE': [1.0, 2.0, None]}
    """
    position = {str(item): index for index, item in enumerate(item_ids.tolist())}
    ids = [str(item) for item in table.column(_table_name(table, id_column)).to_pylist()]
    rows = [(position[item], row) for row, item in enumerate(ids) if item in position]

    columns: dict[str, list[Any]] = {}
    for name in table.column_names:
        if name.upper() == id_column.upper():
            continue
        values = table.column(name).to_pylist()
        aligned: list[Any] = [None] * len(position)
        for index, row in rows:
            aligned[index] = values[row]
        columns[name] = aligned
    return columns


def row_from_table(
    table: pa.Table, row_id: str, id_column: str = "USER_ID"
) -> dict[str, Any] | None:
    """The row of ``row_id`` (last one wins) as column -> value, for :attr:`FilterContext.users`.

    Examples
    --------
    >>> row_from_table(pa.table({"USER_ID": ["u1"], "AGE": [30]}), "u1")
    {'AGE': 30}
    """
    ids = table.column(_table_name(table, id_column)).to_pylist()
    matches = [row for row, value in enumerate(ids) if str(value) == str(row_id)]
    if not matches:
        return None
    record = table.slice(matches[-1], 1).to_pylist()[0]
    return {name: value for name, value in record.items() if name.upper() != id_column.upper()}


def _table_name(table: pa.Table, name: str) -> str:
    for column in table.column_names:
        if column.upper() == name.upper():
            return column
    raise InvalidInputError(f"table has no {name} column; columns: {', '.join(table.column_names)}")
