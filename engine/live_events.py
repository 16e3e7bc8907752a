"""Events logged after a version was trained, folded into users' state at request time.

A campaign keeps a :class:`LiveHistories`. On each request it compares the size of the
group's event log with the offset it has read to (one ``stat``), reads only the new lines,
and keeps each user's new events. A user with new events is scored from their whole history
(the artifact's weighted seen items plus the new events, weighted by the recipe's
``event_weights``) with the model's ``score_histories``, which for ALS re-solves the user's
factors exactly (fold-in). Every item of a new event is excluded from that user's answers.

Anonymous visitors are served under their session id. An event that carries both a session
id and a user id joins the session to the user (see :mod:`engine.store.sessions`): from then
on the session's events, the earlier ones and the later ones, and its history in the
artifact if it was trained on as a user of its own, count as the user's, and a request for
the session id is answered as a request for the user. Sessions joined before the version's
training are in the artifact already (``session_ids``, ``session_user_ids``).

The version's manifest records how much of the log its training read (``events_log_end``),
so events already inside the model are not counted twice.

Limitation: events on items the version never saw are excluded from answers but cannot be
scored until the next training.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.store.event_log import EventLog
from engine.training import SolutionVersion
from recipes import InteractionData, Model, get_recipe

__all__ = ["LiveHistories", "UserEvents"]

logger = logging.getLogger(__name__)


@dataclass
class UserEvents:
    """One user's events since the version's training data, in log order."""

    item_ids: list[str] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    event_values: list[float] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)

    def extend(self, other: UserEvents) -> None:
        """Append ``other``'s events to these."""
        self.item_ids += other.item_ids
        self.event_types += other.event_types
        self.event_values += other.event_values
        self.timestamps += other.timestamps


class LiveHistories:
    """New events per user, read incrementally from the group's event log.

    Parameters
    ----------
    version
        The solution version being served.
    model
        Its loaded model.
    arrays
        Its artifact arrays (vocabularies, seen items, joined sessions).
    user_index
        Dense index of each user id of the artifact.
    """

    def __init__(
        self,
        version: SolutionVersion,
        model: Model,
        arrays: Mapping[str, np.ndarray],
        user_index: Mapping[str, int] | None = None,
    ) -> None:
        # The version lives in groups/<group>/solutions/<solution>/<version>.
        self._log = EventLog(version.path.parents[2])
        self._offset = int(version.manifest.get("events_log_end", 0))
        self._model = model
        self._arrays = arrays
        if user_index is None:
            user_index = {str(user): index for index, user in enumerate(arrays["user_ids"])}
        self._user_index = user_index
        self._config = version.manifest["config"]
        self._recipe = get_recipe(version.recipe)()
        self._item_index = {str(item): index for index, item in enumerate(arrays["item_ids"])}
        self._users: dict[str, UserEvents] = {}
        self._joins = _trained_joins(arrays)
        self._live_sessions: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the lines appended since the last call; cheap when there are none."""
        if self._log.size() <= self._offset:
            return
        with self._lock:
            records, self._offset = self._log.read(self._offset)
            for record in records:
                if record["dataset"] == "INTERACTIONS":
                    self._add(record["rows"], record.get("meta"))

    def _add(self, rows: list[dict[str, Any]], meta: list[dict[str, Any]] | None) -> None:
        for row, extra in zip(rows, meta or repeat({}), strict=False):
            upper = {key.upper(): value for key, value in row.items()}
            user, session = str(upper["USER_ID"]), extra.get("session_id")
            if session is not None and session != user:
                self._join(str(session), user)
            user = self._joins.get(user, user)

            events = self._users.setdefault(user, UserEvents())
            events.item_ids.append(str(upper["ITEM_ID"]))
            events.event_types.append(str(upper.get("EVENT_TYPE") or ""))
            value = upper.get("EVENT_VALUE")
            events.event_values.append(np.nan if value is None else float(value))
            events.timestamps.append(int(upper["TIMESTAMP"]))

    def _join(self, session: str, user: str) -> None:
        """Count ``session``'s events and trained history as ``user``'s from now on."""
        if session in self._joins:
            return
        self._joins[session] = user
        self._live_sessions.setdefault(user, []).append(session)
        earlier = self._users.pop(session, None)
        if earlier is not None:
            self._users.setdefault(user, UserEvents()).extend(earlier)
        logger.debug("joined session %s to user %s", session, user)

    def canonical(self, user_id: str) -> str:
        """The user a request for ``user_id`` is for: a joined session's user, or itself."""
        return self._joins.get(user_id, user_id)

    def has_events(self, user_id: str) -> bool:
        """Whether ``user_id`` must be scored here rather than from the model's factors.

        True for a user with events the version was not trained on, one joined to sessions
        since, and a session id joined to a user (it is answered as that user).
        """
        user = self.canonical(user_id)
        return user != user_id or user in self._users or user in self._live_sessions

    def new_items(self, user_id: str) -> np.ndarray:
        """Catalogue indices to exclude beyond the ones ``user_id`` took in training.

        The items of the user's new events (those the version knows), and every item the
        version saw for the user's other identities: the joined sessions, or for a session
        id the user it is joined to.
        """
        user = self.canonical(user_id)
        events = self._users.get(user, UserEvents())
        known = [self._item_index[item] for item in events.item_ids if item in self._item_index]
        seen = [self._seen_span(index)[0] for index in self._trained_rows(user)]
        return np.concatenate([np.asarray(known, dtype=np.int64), *seen]).astype(np.int64)

    def scores(self, user: int | None, user_id: str) -> np.ndarray:
        """Scores of ``user_id`` from their whole history, by the model's fold-in.

        The history is what the version saw for the user (and for every session joined to
        them) plus the events since. ``user`` is the artifact index of ``user_id`` itself,
        or ``None``; the history is found from the id either way.
        """
        canonical = self.canonical(user_id)
        spans = [self._seen_span(index) for index in self._trained_rows(canonical)]
        spans.append(self._events_span(canonical))
        items = np.concatenate([span[0] for span in spans]).astype(np.int32)
        weights = np.concatenate([span[1] for span in spans]).astype(np.float64)
        history = sp.csr_matrix(
            (weights, items, np.array([0, items.size])), shape=(1, len(self._item_index))
        )
        history.sum_duplicates()
        return np.asarray(self._model.score_histories(history)[0], dtype=np.float64)

    def _trained_rows(self, user: str) -> list[int]:
        """Artifact rows of ``user`` and of the sessions joined to them since training."""
        ids = [user, *self._live_sessions.get(user, [])]
        return [self._user_index[found] for found in ids if found in self._user_index]

    def _seen_span(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """The artifact's seen items of a training user and their training weights."""
        indptr = self._arrays["seen_indptr"]
        span = slice(int(indptr[user]), int(indptr[user + 1]))
        items = np.asarray(self._arrays["seen_indices"][span])
        weights = self._arrays.get("seen_weights")
        values = np.ones(items.size) if weights is None else np.asarray(weights[span], np.float64)
        return items, values

    def _events_span(self, user_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The new events the solution selects, on known items, and their recipe weights."""
        events = self._users.get(user_id, UserEvents())
        keep = [i for i, item in enumerate(events.item_ids) if self._selected(events, i, item)]
        if not keep:
            return np.zeros(0, np.int32), np.zeros(0)

        names = tuple(sorted({events.event_types[i] for i in keep}))
        items = np.array([self._item_index[events.item_ids[i]] for i in keep], np.int32)
        data = InteractionData(
            user_indices=np.zeros(len(keep), np.int32),
            item_indices=items,
            timestamps=np.array([events.timestamps[i] for i in keep], np.int64),
            event_types=np.array([names.index(events.event_types[i]) for i in keep], np.int32),
            event_values=np.array([events.event_values[i] for i in keep], np.float32),
            num_users=1,
            num_items=len(self._item_index),
            event_type_names=names,
        )
        return items, self._recipe.event_weights(data, self._config["hyperparameters"])

    def _selected(self, events: UserEvents, index: int, item: str) -> bool:
        """Whether the solution's event type and value threshold keep this event."""
        if item not in self._item_index:
            return False
        wanted = self._config.get("event_type")
        if wanted is not None and events.event_types[index] != wanted:
            return False
        threshold = self._config.get("event_value_threshold")
        return threshold is None or bool(events.event_values[index] >= np.float32(threshold))


def _trained_joins(arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """The sessions joined to users in the version's training data."""
    sessions, users = arrays.get("session_ids"), arrays.get("session_user_ids")
    if sessions is None or users is None:
        return {}
    return {str(session): str(user) for session, user in zip(sessions, users, strict=True)}
