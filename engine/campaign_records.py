"""The record of a campaign on disk: which solution version it serves, and its updates.

Layout::

    groups/<group>/campaigns/<name>.json

A record, replaced atomically on every change::

    {"name": "home", "solution": "als", "version_id": "v2", "sync_with_latest": false,
     "status": "ACTIVE", "created": "...", "updated": "...",
     "latest_update": {"version_id": "v2", "sync_with_latest": false, "status": "ACTIVE",
                       "created": "...", "updated": "..."}}

``version_id`` is the version the campaign was deployed with or last updated to. With
``sync_with_latest`` the campaign serves its solution's latest ACTIVE version instead, and
follows each new one (the service's ``syncWithLatestSolutionVersion``). ``latest_update`` is
present once the campaign has been updated. Writers hold the campaigns' writer lock
(:func:`engine.store.files.writer_lock` on the ``campaigns`` directory).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError
from engine.store import DatasetGroup
from engine.store.files import read_json, write_json
from engine.training import SolutionVersion, get_solution

__all__ = [
    "campaign_records",
    "campaigns_root",
    "new_record",
    "read_campaign_record",
    "record_path",
    "served_version",
    "updated_record",
    "write_campaign_record",
]


def campaigns_root(group: DatasetGroup) -> Path:
    """The directory of the group's campaign records (and their writer lock)."""
    return Path(group.path) / "campaigns"


def record_path(group: DatasetGroup, name: str) -> Path:
    """Where the record of campaign ``name`` lives."""
    return campaigns_root(group) / f"{name}.json"


def read_campaign_record(group: DatasetGroup, name: str) -> dict[str, Any]:
    """The record of campaign ``name``.

    Raises
    ------
    NotFoundError
        The group has no such campaign.
    """
    path = record_path(group, name)
    try:
        record: dict[str, Any] = read_json(path)
    except FileNotFoundError:
        raise NotFoundError(
            f"campaign {name!r} does not exist in dataset group {group.name!r}"
        ) from None
    return record


def campaign_records(group: DatasetGroup) -> list[dict[str, Any]]:
    """The records of every campaign of ``group``, by name."""
    return [read_json(path) for path in sorted(campaigns_root(group).glob("*.json"))]


def write_campaign_record(group: DatasetGroup, record: dict[str, Any]) -> None:
    """Replace a campaign's record atomically; hold the campaigns' writer lock."""
    write_json(record_path(group, record["name"]), record)


def new_record(name: str, version: SolutionVersion, sync_with_latest: bool) -> dict[str, Any]:
    """The record of a campaign created now to serve ``version``."""
    created = _now()
    return {
        "name": name,
        "solution": version.manifest["solution"],
        "version_id": version.version_id,
        "sync_with_latest": sync_with_latest,
        "status": "ACTIVE",
        "created": created,
        "updated": created,
    }


def updated_record(
    record: dict[str, Any], version: SolutionVersion, sync_with_latest: bool
) -> dict[str, Any]:
    """``record`` updated to serve ``version`` (or its solution's latest), noting the update."""
    now = _now()
    update = {
        "version_id": version.version_id,
        "sync_with_latest": sync_with_latest,
        "status": "ACTIVE",
        "created": now,
        "updated": now,
    }
    return {
        **record,
        "solution": version.manifest["solution"],
        "version_id": version.version_id,
        "sync_with_latest": sync_with_latest,
        "updated": now,
        "latest_update": update,
    }


def served_version(group: DatasetGroup, record: dict[str, Any]) -> SolutionVersion:
    """The version a campaign with ``record`` serves now.

    Raises
    ------
    NotFoundError
        The version (or, when syncing, any ACTIVE version of the solution) is gone.
    """
    solution = get_solution(group, record["solution"])
    if record.get("sync_with_latest", False):
        return solution.version()
    return solution.version(record["version_id"])


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
