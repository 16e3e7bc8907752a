"""Events logged after a version was trained, folded into users' state at request time.

A campaign keeps a :class:`LiveHistories`. On each request it compares the size of the
group's event log with the offset it has read to (one ``stat``), reads only the new lines,
and keeps each user's new events. A user with new events is scored from their whole history
(the artifact's weighted seen items plus the new events, weighted by the recipe's
``event_weights``) with the model's ``score_histories``, which for ALS re-solves the user's
factors exactly (fold-in). Every item of a new event is excluded from that user's answers.

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


class LiveHistories:
    """New events per user, read incrementally from the group's event log.

    Parameters
    ----------
    version
        The solution version being served.
    model
        Its loaded model.
    arrays
        Its artifact arrays (vocabularies and seen items).
    """

    def __init__(
        self, version: SolutionVersion, model: Model, arrays: Mapping[str, np.ndarray]
    ) -> None:
        # The version lives in groups/<group>/solutions/<solution>/<version>.
        self._log = EventLog(version.path.parents[2])
        self._offset = int(version.manifest.get("events_log_end", 0))
        self._model = model
        self._arrays = arrays
        self._config = version.manifest["config"]
        self._recipe = get_recipe(version.recipe)()
        self._item_index = {str(item): index for index, item in enumerate(arrays["item_ids"])}
        self._users: dict[str, UserEvents] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the lines appended since the last call; cheap when there are none."""
        if self._log.size() <= self._offset:
            return
        with self._lock:
            records, self._offset = self._log.read(self._offset)
            for record in records:
                if record["dataset"] == "INTERACTIONS":
                    self._add(record["rows"])

    def _add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            upper = {key.upper(): value for key, value in row.items()}
            events = self._users.setdefault(str(upper["USER_ID"]), UserEvents())
            events.item_ids.append(str(upper["ITEM_ID"]))
            events.event_types.append(str(upper.get("EVENT_TYPE") or ""))
            value = upper.get("EVENT_VALUE")
            events.event_values.append(np.nan if value is None else float(value))
            events.timestamps.append(int(upper["TIMESTAMP"]))

    def has_events(self, user_id: str) -> bool:
        """Whether ``user_id`` has events the version was not trained on."""
        return user_id in self._users

    def new_items(self, user_id: str) -> np.ndarray:
        """Catalogue indices of the items of the user's new events (unknown items left out)."""
        events = self._users.get(user_id)
        if events is None:
            return np.zeros(0, np.int64)
        known = [self._item_index[item] for item in events.item_ids if item in self._item_index]
        return np.asarray(known, dtype=np.int64)

    def scores(self, user: int | None, user_id: str) -> np.ndarray:
        """Scores of the user from their seen items (if known) and new events, by fold-in."""
        history = self._seen_row(user) + self._events_row(user_id)
        return np.asarray(self._model.score_histories(history)[0], dtype=np.float64)

    def _seen_row(self, user: int | None) -> sp.csr_matrix:
        """The artifact's weighted history of a training user; empty for a new user."""
        shape = (1, len(self._item_index))
        if user is None:
            return sp.csr_matrix(shape, dtype=np.float64)
        indptr = self._arrays["seen_indptr"]
        span = slice(int(indptr[user]), int(indptr[user + 1]))
        items = np.asarray(self._arrays["seen_indices"][span])
        weights = self._arrays.get("seen_weights")
        values = np.ones(items.size) if weights is None else np.asarray(weights[span], np.float64)
        return sp.csr_matrix((values, (np.zeros(items.size, np.int64), items)), shape=shape)

    def _events_row(self, user_id: str) -> sp.csr_matrix:
        """The new events the solution selects, weighted by the recipe, on known items."""
        shape = (1, len(self._item_index))
        events = self._users.get(user_id, UserEvents())
        keep = [i for i, item in enumerate(events.item_ids) if self._selected(events, i, item)]
        if not keep:
            return sp.csr_matrix(shape, dtype=np.float64)

        names = tuple(sorted({events.event_types[i] for i in keep}))
        data = InteractionData(
            user_indices=np.zeros(len(keep), np.int32),
            item_indices=np.array([self._item_index[events.item_ids[i]] for i in keep], np.int32),
            timestamps=np.array([events.timestamps[i] for i in keep], np.int64),
            event_types=np.array([names.index(events.event_types[i]) for i in keep], np.int32),
            event_values=np.array([events.event_values[i] for i in keep], np.float32),
            num_users=1,
            num_items=len(self._item_index),
            event_type_names=names,
        )
        weights = self._recipe.event_weights(data, self._config["hyperparameters"])
        return data.matrix(weights).astype(np.float64)

    def _selected(self, events: UserEvents, index: int, item: str) -> bool:
        """Whether the solution's event type and value threshold keep this event."""
        if item not in self._item_index:
            return False
        wanted = self._config.get("event_type")
        if wanted is not None and events.event_types[index] != wanted:
            return False
        threshold = self._config.get("event_value_threshold")
        return threshold is None or bool(events.event_values[index] >= np.float32(threshold))
