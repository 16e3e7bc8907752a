"""Anonymous sessions joined to the users they turn out to be.

A visitor who has not signed in sends events with a session id and no user id; those rows
carry the session id as ``USER_ID``. When an event of the session carries a user id as well,
the session is *joined* to that user: every event of the session, before the join and after
it, counts as the user's. This module reads the joins from the event log's records and
applies them to the logged rows, so that training and every reader of the Interactions
dataset see one user where the service would.

The first user id a session is joined to keeps it: a later event of the same session with
another user id (a shared device) is that user's own event, but does not move the session.

As the service does, an event whose event id an earlier logged event had is not used: only
the first event of each id counts (an event put without an id got a unique one).

Limitation: only logged events are joined. A bulk-imported row whose ``USER_ID`` happens to
equal a session id is left as it is, since a bulk row has no session.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import repeat
from typing import Any, NamedTuple

__all__ = ["joined_rows", "session_joins"]

INTERACTIONS = "INTERACTIONS"


def session_joins(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Session id → user id, for every session an event joined to a user.

    Parameters
    ----------
    records
        Decoded event-log lines, oldest first (see :mod:`engine.store.event_log`).

    Examples
    --------
    >>> session_joins([{"dataset": "INTERACTIONS", "rows": [{"USER_ID": "u1"}],
    ...                 "meta": [{"session_id": "s1"}]}])
    {'s1': 'u1'}
    """
    joins: dict[str, str] = {}
    for event in _events(records):
        if event.session is not None and event.user != event.session:
            joins.setdefault(event.session, event.user)
    return joins


def joined_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Interactions rows of ``records`` as training reads them.

    A row is anonymous when its ``USER_ID`` is its own session id; if that session is
    joined to a user, the row's ``USER_ID`` becomes the user's. A row whose event id an
    earlier row had is left out. Other rows are unchanged.
    """
    listed = list(records)
    joins = session_joins(listed)
    seen_ids: set[str] = set()
    rows = []
    for event in _events(listed):
        if event.event_id is not None and event.event_id in seen_ids:
            continue
        if event.event_id is not None:
            seen_ids.add(event.event_id)
        row = event.row
        if event.session is not None and event.user == event.session and event.session in joins:
            row = {**row, _user_key(row): joins[event.session]}
        rows.append(row)
    return rows


class _Event(NamedTuple):
    user: str
    session: str | None
    event_id: str | None
    row: dict[str, Any]


def _events(records: Iterable[Mapping[str, Any]]) -> Iterator[_Event]:
    """Each logged Interactions row with its user, session and event ids (``None`` if unknown)."""
    for record in records:
        if record["dataset"] != INTERACTIONS:
            continue
        meta = record.get("meta") or repeat({})
        for row, extra in zip(record["rows"], meta, strict=False):
            session, event_id = extra.get("session_id"), extra.get("event_id")
            yield _Event(
                str(row[_user_key(row)]),
                None if session is None else str(session),
                None if event_id is None else str(event_id),
                row,
            )


def _user_key(row: Mapping[str, Any]) -> str:
    """The row's key for ``USER_ID``, as the schema spells it."""
    return next(key for key in row if key.upper() == "USER_ID")
