"""Planted data with a known answer, shared by the training and campaign tests."""

import csv
from pathlib import Path

import numpy as np

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
GROUPS = 3
USERS_PER_GROUP = 30
ITEMS_PER_GROUP = 16
NOW = 1_710_000_000


def planted_rows(seed: int = 5) -> list[tuple[str, str, str, str, int]]:
    """Three taste groups: each user watches 14 of the 16 items of their group.

    Group g's items are ``i{g}-00`` .. ``i{g}-15``; item 00 is the most popular in each.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for group in range(GROUPS):
        for member in range(USERS_PER_GROUP):
            user = f"u{group}-{member:02d}"
            skipped = rng.choice(np.arange(1, ITEMS_PER_GROUP), size=2, replace=False)
            for item in range(ITEMS_PER_GROUP):
                if item in skipped:
                    continue
                value = f"{rng.uniform(0.1, 1.0):.2f}"
                stamp = 1_700_000_000 + int(rng.integers(0, 10_000_000))
                rows.append((user, f"i{group}-{item:02d}", "watch", value, stamp))
    return rows


def write_interactions(path: Path, rows: list[tuple[str, str, str, str, int]]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"])
        writer.writerows(rows)
    return path


def watch(item: str, at: int = NOW, **fields: object) -> dict[str, object]:
    """One ``put_events`` event: a watch of ``item`` at ``at``, with any other fields."""
    return {"event_type": "watch", "sent_at": at, "item_id": item, "event_value": 0.9, **fields}
