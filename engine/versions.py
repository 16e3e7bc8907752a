"""Solution versions as the service lists them: list, describe, stop and delete.

Creating a version is :meth:`engine.training.Solution.train` (or ``train_in_background``);
this module answers for the versions that exist, with the checks that need to know about
campaigns: a version a campaign serves cannot be deleted.

The service has no call to delete one solution version (only whole solutions); here a
version can be deleted when no campaign serves it and it is not being created. Version ids
are never reused.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.campaign_records import campaign_records, campaigns_root, served_version
from engine.errors import InUseError, NotFoundError
from engine.lifecycle import CREATE_STOPPED, UNFINISHED, remove_version, request_stop
from engine.store.files import writer_lock
from engine.training import Solution, summarize_version

__all__ = [
    "delete_solution_version",
    "describe_solution_version",
    "list_solution_versions",
    "stop_solution_version_creation",
]

logger = logging.getLogger(__name__)


def list_solution_versions(solution: Solution) -> list[dict[str, Any]]:
    """A summary of each version, oldest first: id, status, training mode, dates.

    Examples
    --------
    >>> [summary["status"] for summary in list_solution_versions(solution)]  # doctest: +SKIP
    ['ACTIVE', 'CREATE STOPPED', 'CREATE IN_PROGRESS']
    """
    return [summarize_version(version) for version in solution.versions()]


def describe_solution_version(solution: Solution, version_id: str) -> dict[str, Any]:
    """Everything the version's manifest records, with its status now.

    Raises
    ------
    NotFoundError
        The solution has no such version.
    """
    manifest = dict(solution.version(version_id).manifest)
    manifest.pop("files", None)
    return manifest


def stop_solution_version_creation(solution: Solution, version_id: str) -> None:
    """Stop the creation of a version: it ends ``CREATE STOPPED`` and keeps no arrays.

    A version in ``CREATE IN_PROGRESS`` is ``CREATE STOPPING`` until its training reaches
    its next step.

    Raises
    ------
    NotFoundError
        The solution has no such version.
    InvalidStateError
        The version is not being created.
    """
    version = solution.version(version_id)
    request_stop(version.path)


def delete_solution_version(solution: Solution, version_id: str) -> None:
    """Delete a version and its artifact.

    Raises
    ------
    NotFoundError
        The solution has no such version.
    InUseError
        A campaign serves the version, the version is being created, or another writer
        holds the solution's lock (a training of another version).
    """
    version = solution.version(version_id)
    if version.status in UNFINISHED:
        raise InUseError(
            f"solution version {version_id} is {version.status}; stop it and wait until it is "
            f"{CREATE_STOPPED} before deleting it"
        )
    with writer_lock(campaigns_root(solution.group)), writer_lock(solution.path):
        for record in campaign_records(solution.group):
            if record["solution"] == solution.name and _serves(solution, record, version_id):
                raise InUseError(
                    f"campaign {record['name']!r} serves {solution.name}/{version_id}; update "
                    "the campaign to another version before deleting this one"
                )
        remove_version(version.path)


def _serves(solution: Solution, record: dict[str, Any], version_id: str) -> bool:
    try:
        return served_version(solution.group, record).version_id == version_id
    except NotFoundError:
        return record["version_id"] == version_id
