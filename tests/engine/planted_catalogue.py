"""Items and Users of the planted data, with fields of every kind a filter can meet."""

import csv
from pathlib import Path

from tests.engine.planted import GROUPS, ITEMS_PER_GROUP, USERS_PER_GROUP

GENRES = ("Comedy", "Drama", "Horror")
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "float"},
        {"name": "IN_STOCK", "type": "boolean"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
    "version": "1.0",
}
USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": "int"},
        {"name": "MEMBERSHIP", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}


def item_row(group: int, number: int) -> dict[str, object]:
    """Item ``i{group}-{number:02d}``: its group's genre (and Family for even numbers),
    price ``number``, in stock unless ``number`` is a multiple of 3."""
    genres = GENRES[group] + ("|Family" if number % 2 == 0 else "")
    return {
        "ITEM_ID": f"i{group}-{number:02d}",
        "GENRES": genres,
        "PRICE": float(number),
        "IN_STOCK": number % 3 != 0,
        "DESCRIPTION": f"A {GENRES[group].lower()} video, number {number}.",
    }


def user_row(group: int, member: int) -> dict[str, object]:
    """User ``u{group}-{member:02d}``: aged ``10 + member``, gold members when even."""
    membership = "gold" if member % 2 == 0 else "basic"
    return {"USER_ID": f"u{group}-{member:02d}", "AGE": 10 + member, "MEMBERSHIP": membership}


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(
            {
                key: str(value).lower() if isinstance(value, bool) else value
                for key, value in row.items()
            }
            for row in rows
        )
    return path


def add_catalogue(group, directory: Path) -> None:
    """Give a planted dataset group its Items and Users datasets."""
    items = [item_row(g, n) for g in range(GROUPS) for n in range(ITEMS_PER_GROUP)]
    users = [user_row(g, m) for g in range(GROUPS) for m in range(USERS_PER_GROUP)]
    group.create_dataset("ITEMS", ITEMS_SCHEMA)
    group.import_csv("ITEMS", write_rows(directory / "items.csv", items))
    group.create_dataset("USERS", USERS_SCHEMA)
    group.import_csv("USERS", write_rows(directory / "users.csv", users))
