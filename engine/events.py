"""Live data: event trackers, ``put_events``, ``put_users`` and ``put_items``.

Each call is validated whole against the dataset's schema, with the import's own column
rules (:mod:`engine.store.validation`), then appended as one line to the group's event log
(:mod:`engine.store.event_log`), fsynced before the call returns. A call with any bad event
or record raises :class:`~engine.errors.ValidationError` naming each one by its index and
field, and stores nothing. Logged rows are part of the datasets at once: the next training
reads them, and a campaign folds them into the user's state on its next request.

Field mapping, as the service does it:

- ``event_type`` → ``EVENT_TYPE`` (required in every event, ignored if the schema lacks it);
  ``sent_at`` → ``TIMESTAMP`` (epoch seconds, or a ``datetime``); ``item_id`` → ``ITEM_ID``;
  ``event_value`` → ``EVENT_VALUE``; ``impression`` → ``IMPRESSION`` (joined with ``|``);
  ``recommendation_id`` → ``RECOMMENDATION_ID``; the user id, or for an anonymous visitor the
  session id, → ``USER_ID``.
- ``properties`` is a JSON object whose camelCase keys name other schema columns
  (``numberOfRatings`` → ``NUMBER_OF_RATINGS``); a list value is joined with ``|``.

An anonymous visitor's events carry the session id as ``USER_ID``. An event with both a
session id and a user id joins the session to the user: from then on the session's events,
earlier and later, count as the user's, in campaigns at once and in the next training (see
:mod:`engine.store.sessions` and :mod:`engine.live_events`).

Training uses only the first logged event of each event id, as the service does.

Limitation: the service also keeps only one of two events with the same timestamp and
properties; here both are kept. A campaign folds in every event it reads, a repeated event
id included, until the next training.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from engine.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    Problem,
    ValidationError,
)
from engine.schema import Schema
from engine.store import Dataset, DatasetGroup, Store
from engine.store.event_log import EventLog
from engine.store.files import read_json, write_json, writer_lock
from engine.store.store import check_name
from engine.store.validation import validate_table

__all__ = [
    "MAX_EVENTS",
    "Event",
    "EventTracker",
    "create_event_tracker",
    "find_event_tracker",
    "get_event_tracker",
    "put_events",
    "put_items",
    "put_users",
]

logger = logging.getLogger(__name__)

MAX_EVENTS = 10
MAX_ID = 256
MAX_EVENT_PROPERTIES = 1024
MAX_IMPRESSIONS = 25
MAX_RECOMMENDATION_ID = 40
MAX_RECORD_PROPERTIES = {"USERS": 24_000, "ITEMS": 32_000}
TRACKER_FILE = "event-tracker.json"
FORBIDDEN_PROPERTIES = frozenset(
    {"userid", "sessionid", "eventtype", "timestamp", "recommendationid", "impression"}
)
_EVENT_COLUMNS = {
    "USER_ID": "user_id",
    "ITEM_ID": "item_id",
    "TIMESTAMP": "sent_at",
    "EVENT_TYPE": "event_type",
    "EVENT_VALUE": "event_value",
    "IMPRESSION": "impression",
    "RECOMMENDATION_ID": "recommendation_id",
}
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class Event:
    """One event of a ``put_events`` call; a plain dict with these keys works as well.

    Attributes
    ----------
    event_type : str
        1-256 characters; required even when the schema has no ``EVENT_TYPE``.
    sent_at : int, float or datetime
        When it happened, in epoch seconds (not milliseconds).
    item_id : str or None
        The item interacted with.
    event_value : float or None
        ``EVENT_VALUE``, such as a rating or a watched share.
    properties : str or None
        A JSON object of further columns, camelCase keys, 1-1024 characters.
    event_id : str or None
        1-256 characters; generated when absent.
    impression : list of str or None
        1-25 item ids the user was shown.
    recommendation_id : str or None
        The ``recommendation_id`` of the answer the item came from, 1-40 characters.
    """

    event_type: str
    sent_at: int | float | datetime.datetime
    item_id: str | None = None
    event_value: float | None = None
    properties: str | None = None
    event_id: str | None = None
    impression: Sequence[str] | None = None
    recommendation_id: str | None = None


_EVENT_KEYS = {field.name for field in dataclasses.fields(Event)}


@dataclass(frozen=True)
class EventTracker:
    """The dataset group's event tracker; its ``tracking_id`` identifies it to callers.

    Obtain it with :func:`create_event_tracker` or :func:`get_event_tracker`.

    Examples
    --------
    >>> tracker = create_event_tracker(group, "web")  # doctest: +SKIP
    >>> tracker.put_events("session-1", [{"event_type": "watch", "sent_at": 1700000000,
    ...                                   "item_id": "v17"}], user_id="u42")  # doctest: +SKIP
    """

    group: DatasetGroup
    name: str
    tracking_id: str
    status: str = "ACTIVE"

    def put_events(
        self,
        session_id: str,
        event_list: Sequence[Event | Mapping[str, Any]],
        user_id: str | None = None,
    ) -> None:
        """Validate 1-10 events and append them durably to the Interactions dataset.

        Parameters
        ----------
        session_id
            1-256 characters; the user id of an anonymous visitor.
        event_list
            1-10 :class:`Event` objects or dicts with its keys (camelCase keys such as
            ``sentAt`` are accepted too).
        user_id
            1-256 characters, or ``None`` for an anonymous visitor.

        Raises
        ------
        ValidationError
            An event breaks the schema or the service's limits; it names the event's index
            and field. Nothing of the call is stored.
        InvalidInputError
            ``session_id``, ``user_id`` or the number of events is out of range.
        NotFoundError
            The group has no Interactions dataset.
        """
        _check_id("session_id", session_id)
        if user_id is not None:
            _check_id("user_id", user_id)
        _check_count("event_list", event_list)
        dataset = self.group.dataset("INTERACTIONS")

        events = [_as_mapping(event) for event in event_list]
        rows, meta = _validated_events(dataset.schema, events, user_id or session_id, session_id)
        end = EventLog(self.group.path).append("INTERACTIONS", rows, meta)
        logger.debug("logged %d event(s) of %s; log at %d bytes", len(rows), session_id, end)

    def describe(self) -> dict[str, Any]:
        """The tracker's name, tracking id, status and dataset group."""
        return {
            "name": self.name,
            "tracking_id": self.tracking_id,
            "status": self.status,
            "dataset_group": self.group.name,
        }


def create_event_tracker(group: DatasetGroup, name: str) -> EventTracker:
    """Create the event tracker of ``group``; a group has at most one.

    Raises
    ------
    InvalidInputError
        A bad name.
    AlreadyExistsError
        The group has an event tracker already.
    InUseError
        Another writer holds the store's lock.
    """
    check_name(name)
    path = group.path / TRACKER_FILE
    tracker = EventTracker(group, name, str(uuid.uuid4()))
    with writer_lock(group.root):
        if path.exists():
            existing = read_json(path)["name"]
            raise AlreadyExistsError(
                f"dataset group {group.name!r} has an event tracker already ({existing!r}); "
                "a group has one"
            )
        write_json(path, {"name": name, "tracking_id": tracker.tracking_id, "status": "ACTIVE"})
    logger.info("created event tracker %s for group %s", name, group.name)
    return tracker


def get_event_tracker(group: DatasetGroup) -> EventTracker:
    """The event tracker of ``group``.

    Raises
    ------
    NotFoundError
        The group has no event tracker.
    """
    path = group.path / TRACKER_FILE
    if not path.is_file():
        raise NotFoundError(f"dataset group {group.name!r} has no event tracker; create one first")
    record = read_json(path)
    return EventTracker(group, record["name"], record["tracking_id"], record["status"])


def find_event_tracker(store: Store, tracking_id: str) -> EventTracker:
    """The event tracker with ``tracking_id``, in whichever dataset group of ``store``.

    Raises
    ------
    NotFoundError
        No dataset group of the store has an event tracker with that tracking id.
    """
    for group in store.list_dataset_groups():
        path = group.path / TRACKER_FILE
        if path.is_file() and read_json(path)["tracking_id"] == tracking_id:
            return get_event_tracker(group)
    raise NotFoundError(
        f"no event tracker of the store at {store.root} has tracking id {tracking_id!r}"
    )


def put_events(
    store: Store,
    tracking_id: str,
    session_id: str,
    event_list: Sequence[Event | Mapping[str, Any]],
    user_id: str | None = None,
) -> None:
    """The service's ``PutEvents``: find the tracker by its tracking id, then put the events.

    Parameters and errors are those of :meth:`EventTracker.put_events`, and
    :func:`find_event_tracker`'s for an unknown tracking id. Each call looks the tracker
    up; a caller that sends many events keeps the tracker and calls its ``put_events``.

    Examples
    --------
    >>> put_events(Store("recengine-data"), tracking_id, "session-1",
    ...            [{"eventType": "watch", "sentAt": 1700000000, "itemId": "v17"}],
    ...            user_id="u42")  # doctest: +SKIP
    """
    find_event_tracker(store, tracking_id).put_events(session_id, event_list, user_id)


def put_users(group: DatasetGroup, users: Sequence[Mapping[str, Any]]) -> None:
    """Add or replace 1-10 users of the Users dataset, durably.

    Parameters
    ----------
    group
        The dataset group.
    users
        Dicts with ``user_id`` (or ``userId``) and ``properties``, a JSON object of the other
        columns with camelCase keys (at most 24,000 characters).

    Raises
    ------
    ValidationError
        A record breaks the schema; nothing of the call is stored.
    InvalidInputError
        The number of records is out of range.
    NotFoundError
        The group has no Users dataset.
    """
    _put_records(group, "USERS", users)


def put_items(group: DatasetGroup, items: Sequence[Mapping[str, Any]]) -> None:
    """Add or replace 1-10 items of the Items dataset, durably.

    Parameters and errors are those of :func:`put_users`, with ``item_id`` and properties of at
    most 32,000 characters.
    """
    _put_records(group, "ITEMS", items)


def _put_records(group: DatasetGroup, kind: str, records: Sequence[Mapping[str, Any]]) -> None:
    """Validate metadata records and log them as one line."""
    name = "users" if kind == "USERS" else "items"
    _check_count(name, records)
    dataset = group.dataset(kind)
    rows = _validated_records(dataset, name, [_snake_keys(record) for record in records])
    EventLog(group.path).append(kind, rows)
    logger.debug("logged %d %s record(s) of group %s", len(rows), kind, group.name)


def _check_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID:
        raise InvalidInputError(f"{name} must be a string of 1-{MAX_ID} characters, got {value!r}")


def _check_count(name: str, values: Any) -> None:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise InvalidInputError(f"{name} must be a list of 1-{MAX_EVENTS} entries")
    if not 1 <= len(values) <= MAX_EVENTS:
        raise InvalidInputError(
            f"{name} must hold 1-{MAX_EVENTS} entries, got {len(values)}; split it into calls"
        )


def _as_mapping(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """An event as a dict with snake_case keys."""
    if isinstance(event, Event):
        return dataclasses.asdict(event)
    if not isinstance(event, Mapping):
        return {"": event}
    return _snake_keys(event)


def _snake_keys(record: Mapping[str, Any]) -> dict[str, Any]:
    """``sentAt`` → ``sent_at``; snake_case keys are kept."""
    return {_CAMEL_BOUNDARY.sub("_", str(key)).lower(): value for key, value in record.items()}


def column_of_property(key: str) -> str:
    """The schema column a camelCase property key names: ``numberOfRatings`` →
    ``NUMBER_OF_RATINGS``."""
    return _CAMEL_BOUNDARY.sub("_", key).upper()


class _Collector:
    """Problems of one call, each naming an entry's index and field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, index: int, field: str, value: Any, expected: str) -> None:
        shown = value if isinstance(value, str) else repr(value)
        self.problems.append(Problem(self.source, index, field, shown, expected))

    def raise_if_any(self) -> None:
        if self.problems:
            raise _call_error(self.problems, len(self.problems), self.source)


def _call_error(problems: list[Problem], count: int, source: str) -> ValidationError:
    problems = sorted(problems, key=lambda problem: problem.row)
    remedy = "nothing of this call was stored. Fix these entries (counted from 0) and send again"
    return ValidationError(problems, count=count, source=source, remedy=remedy)


def _validated_events(
    schema: Schema, events: list[dict[str, Any]], user_id: str, session_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check each event's own fields, then the schema's rules on the rows they become."""
    problems = _Collector("eventList")
    cells = [
        _event_cells(schema, index, event, user_id, problems) for index, event in enumerate(events)
    ]
    problems.raise_if_any()

    rows = _typed_rows(schema, cells, "eventList", _event_field_name)
    meta = [
        {
            "event_id": event.get("event_id") or str(uuid.uuid4()),
            "session_id": session_id,
            "impression": list(event.get("impression") or []),
            "recommendation_id": event.get("recommendation_id"),
        }
        for event in events
    ]
    return rows, meta


def _event_cells(
    schema: Schema, index: int, event: dict[str, Any], user_id: str, problems: _Collector
) -> dict[str, str]:
    """The event as one string cell per schema column, as an imported CSV row would be."""
    unknown = sorted(set(event) - _EVENT_KEYS)
    for key in unknown:
        problems.add(index, key, event[key], f"one of the event fields {sorted(_EVENT_KEYS)}")
    _check_event_fields(index, event, problems)

    given = {
        "USER_ID": user_id,
        "ITEM_ID": event.get("item_id"),
        "TIMESTAMP": _seconds(index, event.get("sent_at"), problems),
        "EVENT_TYPE": event.get("event_type"),
        "EVENT_VALUE": event.get("event_value"),
        "IMPRESSION": _joined(event.get("impression")),
        "RECOMMENDATION_ID": event.get("recommendation_id"),
    }
    reserved = frozenset(_EVENT_COLUMNS)
    text = event.get("properties")
    given.update(_properties(index, text, MAX_EVENT_PROPERTIES, reserved, problems))
    return _cells(schema, index, given, problems, "properties")


def _check_event_fields(index: int, event: dict[str, Any], problems: _Collector) -> None:
    """The service's limits on fields that are not schema columns."""
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= MAX_ID:
        problems.add(index, "event_type", event_type, f"a string of 1-{MAX_ID} characters")
    event_id = event.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_ID):
        problems.add(index, "event_id", event_id, f"a string of 1-{MAX_ID} characters")
    recommendation = event.get("recommendation_id")
    if recommendation is not None and (
        not isinstance(recommendation, str) or not 1 <= len(recommendation) <= MAX_RECOMMENDATION_ID
    ):
        expected = f"a string of 1-{MAX_RECOMMENDATION_ID} characters"
        problems.add(index, "recommendation_id", recommendation, expected)
    impression = event.get("impression")
    if impression is not None and (
        isinstance(impression, str)
        or not isinstance(impression, Sequence)
        or not 1 <= len(impression) <= MAX_IMPRESSIONS
        or not all(isinstance(item, str) and 1 <= len(item) <= MAX_ID for item in impression)
    ):
        problems.add(index, "impression", impression, f"a list of 1-{MAX_IMPRESSIONS} item ids")


def _seconds(index: int, sent_at: Any, problems: _Collector) -> Any:
    """``sent_at`` as whole epoch seconds; a datetime without a zone is taken as UTC."""
    if isinstance(sent_at, datetime.datetime):
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=datetime.UTC)
        return math.floor(sent_at.timestamp())
    if isinstance(sent_at, float) and math.isfinite(sent_at):
        return math.floor(sent_at)
    if sent_at is None or isinstance(sent_at, bool) or not isinstance(sent_at, int):
        problems.add(index, "sent_at", sent_at, "epoch seconds (int or float) or a datetime")
        return None
    return sent_at


def _joined(values: Any) -> str | None:
    if isinstance(values, Sequence) and not isinstance(values, str) and values:
        return "|".join(str(value) for value in values)
    return None


def _properties(
    index: int, text: Any, limit: int, reserved: frozenset[str], problems: _Collector
) -> dict[str, Any]:
    """Decode a properties JSON object into schema column names and values.

    Keys the service forbids, and keys naming a column the call's own fields fill
    (``reserved``), are problems.
    """
    if text is None:
        return {}
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        problems.add(index, "properties", text, f"a JSON object of 1-{limit} characters")
        return {}
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(index, "properties", text, f"a JSON object ({error.msg})")
        return {}
    if not isinstance(decoded, dict):
        problems.add(index, "properties", text, "a JSON object")
        return {}

    columns = {}
    for key, value in decoded.items():
        column = column_of_property(key)
        if key.lower() in FORBIDDEN_PROPERTIES or column in reserved:
            expected = "no such key: it is reserved or given by its own field"
            problems.add(index, f"properties.{key}", value, expected)
            continue
        columns[column] = _joined(value) if isinstance(value, list) else value
    return columns


def _cells(
    schema: Schema, index: int, given: dict[str, Any], problems: _Collector, source: str
) -> dict[str, str]:
    """One string cell per schema column; a key the schema lacks is a problem."""
    cells = {}
    for column, value in given.items():
        if value is None:
            continue
        if not schema.has_field(column):
            if column in _EVENT_COLUMNS:
                continue  # an event field the schema has no column for is ignored
            problems.add(index, f"{source}.{column}", value, "a column of the dataset's schema")
            continue
        cell = _cell(value)
        if cell is None:
            problems.add(index, _event_field_name(column), value, "a string, number or boolean")
            continue
        cells[schema.field(column).name] = cell
    return cells


def _cell(value: Any) -> str | None:
    """The value as a CSV cell would write it; ``None`` for a value of no column type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def _event_field_name(column: str) -> str:
    """The event field a schema column comes from, as a caller wrote it."""
    upper = column.upper()
    if upper in _EVENT_COLUMNS:
        return _EVENT_COLUMNS[upper]
    return f"properties.{_camel(upper)}"


def _camel(column: str) -> str:
    head, *rest = column.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def _typed_rows(
    schema: Schema, cells: list[dict[str, str]], source: str, field_name: Any
) -> list[dict[str, Any]]:
    """Validate the cells with the import's rules; problems name the entry and its field."""
    columns = {
        field.name: pa.array([row.get(field.name, "") for row in cells], pa.string())
        for field in schema.fields
    }
    try:
        table = validate_table(pa.table(columns), schema, file=source, row_numbers=lambda i: i)
    except ValidationError as error:
        problems = [
            dataclasses.replace(problem, column=field_name(problem.column))
            for problem in error.problems
        ]
        raise _call_error(problems, error.count, source) from None
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _validated_records(
    dataset: Dataset, source: str, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Check Users or Items records and return their typed rows."""
    kind = dataset.dataset_type
    id_field = "user_id" if kind == "USERS" else "item_id"
    id_column = id_field.upper()
    limit = MAX_RECORD_PROPERTIES[kind]
    problems = _Collector(source)

    cells = []
    for index, record in enumerate(records):
        for key in sorted(set(record) - {id_field, "properties"}):
            problems.add(index, key, record[key], f"only {id_field} and properties")
        text = record.get("properties")
        given = _properties(index, text, limit, frozenset({id_column}), problems)
        given[id_column] = record.get(id_field)
        cells.append(_cells(dataset.schema, index, given, problems, "properties"))
    problems.raise_if_any()

    def field_name(column: str) -> str:
        return id_field if column.upper() == id_column else f"properties.{_camel(column)}"

    return _typed_rows(dataset.schema, cells, source, field_name)
