"""Seeded synthetic interactions with skewed popularity and a planted group structure.

Item popularity follows a power law; users' activity is log-normal. Users fall into
groups, and half of each user's events go to the group's own popular items (the global
ranking rotated by the group), so a factor model has something to learn beyond popularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

import engine  # noqa: F401  (importing recipes first is circular; see README)
from recipes import InteractionData

__all__ = ["INTERACTIONS_SCHEMA", "Interactions", "skewed_interactions", "write_csv"]

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
GROUPS = 20
START = 1_600_000_000
SPAN_SECONDS = 3 * 365 * 86400
_CSV_CHUNK = 2_000_000


@dataclass(frozen=True)
class Interactions:
    """Events as dense user and item indices plus timestamps."""

    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    num_users: int
    num_items: int

    def __len__(self) -> int:
        return int(self.users.size)

    def data(self) -> InteractionData:
        """The events as the recipes receive them (one event type, no values)."""
        return InteractionData(
            user_indices=self.users,
            item_indices=self.items,
            timestamps=self.timestamps,
            event_types=np.zeros(len(self), np.int32),
            event_values=np.full(len(self), np.nan, np.float32),
            num_users=self.num_users,
            num_items=self.num_items,
            event_type_names=("watch",),
        )


def skewed_interactions(
    num_users: int, num_items: int, num_interactions: int, seed: int = 0, exponent: float = 0.9
) -> Interactions:
    """Draw ``num_interactions`` events over ``num_users`` × ``num_items``.

    Parameters
    ----------
    num_users, num_items, num_interactions : int
        Sizes; every user has at least one event when ``num_interactions >= num_users``.
    seed : int
        Seeds every draw.
    exponent : float
        Item popularity is proportional to ``rank ** -exponent``.

    Returns
    -------
    Interactions
        Sorted by nothing in particular; timestamps are uniform over three years.
    """
    rng = np.random.default_rng(seed)
    users = _users(rng, num_users, num_interactions)
    ranks = _power_law(rng, num_items, num_interactions, exponent)

    # Half of the events go to the user's group's own ranking of the items.
    group = users % GROUPS
    own = rng.random(num_interactions) < 0.5
    shift = group * (num_items // GROUPS)
    items = np.where(own, (ranks + shift) % num_items, ranks).astype(np.int32)

    timestamps = START + rng.integers(0, SPAN_SECONDS, num_interactions, dtype=np.int64)
    return Interactions(users, items, timestamps, num_users, num_items)


def _users(rng: np.random.Generator, num_users: int, count: int) -> np.ndarray:
    """Every user once, then the rest by log-normal activity."""
    base = np.arange(min(num_users, count), dtype=np.int32)
    activity = rng.lognormal(0.0, 1.0, num_users)
    extra = _draw(rng, activity / activity.sum(), count - base.size)
    users = np.concatenate((base, extra))
    rng.shuffle(users)
    return users


def _power_law(rng: np.random.Generator, size: int, count: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, size + 1, dtype=np.float64) ** -exponent
    return _draw(rng, weights / weights.sum(), count)


def _draw(rng: np.random.Generator, probabilities: np.ndarray, count: int) -> np.ndarray:
    """Inverse-CDF sampling (``rng.choice`` with ``p`` is slower at this size)."""
    cumulative = np.cumsum(probabilities)
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, rng.random(count), side="right").astype(np.int32)


def write_csv(interactions: Interactions, path: Path) -> Path:
    """Write the events as a bulk-import CSV (``u<n>``, ``i<n>``, ``watch``, epoch seconds).

    Written in chunks, so a file of tens of millions of rows needs little memory.
    """
    schema = pa.schema(
        [(name, pa.string()) for name in ("USER_ID", "ITEM_ID", "EVENT_TYPE")]
        + [("TIMESTAMP", pa.int64())]
    )
    options = pv.WriteOptions(quoting_style="none")
    with pv.CSVWriter(path, schema, write_options=options) as writer:
        for start in range(0, len(interactions), _CSV_CHUNK):
            span = slice(start, start + _CSV_CHUNK)
            writer.write_table(_chunk(interactions, span, schema))
    return path


def _chunk(interactions: Interactions, span: slice, schema: pa.Schema) -> pa.Table:
    users = _prefixed("u", interactions.users[span])
    items = _prefixed("i", interactions.items[span])
    events = pa.repeat(pa.scalar("watch"), len(users))
    timestamps = pa.array(interactions.timestamps[span])
    return pa.Table.from_arrays([users, items, events, timestamps], schema=schema)


def _prefixed(prefix: str, codes: np.ndarray) -> pa.Array:
    text = pc.cast(pa.array(codes), pa.string())
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")
