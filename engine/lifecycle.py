"""The lifecycle of a solution version: its statuses, its record on disk, stopping it.

A version moves through the service's statuses::

    CREATE PENDING ──> CREATE IN_PROGRESS ──> ACTIVE
          │                   │          └──> CREATE FAILED
          │ stop              │ stop
          v                   v
    CREATE STOPPED <── CREATE STOPPING

Layout of one version while and after it trains::

    solutions/<solution>/v3/manifest.json     the record: status, configuration, and once
                                              ACTIVE the checksums of the arrays it names
    solutions/<solution>/v3/*.npy             the arrays, moved in just before ACTIVE
    solutions/<solution>/v3/.staging/         arrays being written (see engine.artifacts)
    solutions/<solution>/v3/.training.lock    held (flock) by whoever trains it
    solutions/<solution>/v3/.stop             a stop was asked for
    solutions/<solution>/.versions.json       the last version number handed out
    solutions/<solution>/.changed             replaced whenever a version changes status

Whoever trains a version holds its ``.training.lock`` from the moment the record exists
until the record is final. A record still unfinished whose lock nobody holds belongs to a
training whose process died: readers report it ``CREATE FAILED`` (or ``CREATE STOPPED`` if a
stop was asked for), and the next writer of the solution settles the record and removes its
staged arrays. A stop is a request: :func:`request_stop` leaves a marker that the trainer
checks between steps (:meth:`VersionRun.checkpoint`); the trainer then discards what it had
written and records ``CREATE STOPPED``, so a stopped version never has arrays.

Version numbers are never reused, so that a deleted ``v3`` cannot come back as another
model under the same id.

A stop takes effect at the next step boundary (data selection, evaluation, the final fit,
the write) and, inside a fit, between two iterations of ALS (also those of the evaluation
fit and of similar-items' item factors) or two epochs of LightFM, through
:func:`recipes.base.check_stop`.

Limitation: a recipe without iterations (popularity, trending, content-based, co-occurrence
similar items) runs its fit to the end first; those fits take seconds.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.artifacts import MANIFEST, discard_staging, read_manifest, write_artifact
from engine.errors import InUseError, InvalidStateError, NotFoundError
from engine.store.files import atomic_write, read_json, write_json
from recipes.base import stop_checks

__all__ = [
    "ACTIVE",
    "CHANGED",
    "CREATE_FAILED",
    "CREATE_IN_PROGRESS",
    "CREATE_PENDING",
    "CREATE_STOPPED",
    "CREATE_STOPPING",
    "STATUSES",
    "UNFINISHED",
    "StopRequestedError",
    "VersionRun",
    "read_record",
    "remove_version",
    "request_stop",
    "version_directories",
]

logger = logging.getLogger(__name__)

CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
STATUSES = (
    CREATE_PENDING,
    CREATE_IN_PROGRESS,
    ACTIVE,
    CREATE_FAILED,
    CREATE_STOPPING,
    CREATE_STOPPED,
)
UNFINISHED = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING})
"""Statuses of a version whose training has not ended."""

TRAINING_LOCK = ".training.lock"
STOP_MARKER = ".stop"
COUNTER = ".versions.json"
CHANGED = ".changed"
ABANDONED_REASON = "training ended before it finished: the process that ran it stopped"


class StopRequestedError(Exception):
    """Raised by :meth:`VersionRun.checkpoint` when a stop was asked for."""


def version_directories(solution_path: Path) -> list[Path]:
    """The directories of a solution's versions, oldest first."""
    found = [
        path
        for path in solution_path.glob("v*")
        if path.is_dir() and path.name[1:].isdigit() and (path / MANIFEST).exists()
    ]
    return sorted(found, key=lambda path: int(path.name[1:]))


def read_record(directory: Path) -> dict[str, Any]:
    """The version's manifest, with the status a reader should see.

    A record still unfinished whose training lock nobody holds is reported as its dead
    training left it: ``CREATE STOPPED`` if a stop was asked for, else ``CREATE FAILED``.
    A version in progress with a stop asked for is ``CREATE STOPPING``.
    """
    manifest = read_manifest(directory)
    if manifest["status"] not in UNFINISHED:
        return manifest
    stop_asked = (directory / STOP_MARKER).exists()
    if _is_training(directory):
        if stop_asked and manifest["status"] == CREATE_IN_PROGRESS:
            return {**manifest, "status": CREATE_STOPPING}
        return manifest

    # The trainer may have finished between our two reads: the record is final then.
    manifest = read_manifest(directory)
    if manifest["status"] not in UNFINISHED:
        return manifest
    if stop_asked:
        return {**manifest, "status": CREATE_STOPPED}
    return {**manifest, "status": CREATE_FAILED, "failure_reason": ABANDONED_REASON}


def _is_training(directory: Path) -> bool:
    """Whether someone holds the version's training lock."""
    try:
        handle = os.open(directory / TRAINING_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)
    return False


def request_stop(directory: Path) -> None:
    """Ask the training of the version in ``directory`` to stop.

    Raises
    ------
    InvalidStateError
        The version is not being created (it is ACTIVE, failed or stopped already).
    """
    status = read_record(directory)["status"]
    if status not in UNFINISHED:
        raise InvalidStateError(
            f"solution version {directory.name} is {status}; only a version in "
            f"{CREATE_PENDING} or {CREATE_IN_PROGRESS} can be stopped"
        )
    atomic_write(directory / STOP_MARKER, b"")
    logger.info("asked the training of %s to stop", directory)


def remove_version(directory: Path) -> None:
    """Delete a version's directory; call it holding the solution's writer lock.

    Raises
    ------
    NotFoundError
        There is no such version.
    InUseError
        The version is still being created.
    """
    if not (directory / MANIFEST).exists():
        raise NotFoundError(f"solution {directory.parent.name!r} has no version {directory.name!r}")
    status = read_record(directory)["status"]
    if status in UNFINISHED:
        raise InUseError(
            f"solution version {directory.name} is {status}; stop it and wait until it is "
            f"{CREATE_STOPPED} before deleting it"
        )
    doomed = directory.with_name(f".deleted-{directory.name}-{uuid.uuid4().hex[:8]}")
    os.replace(directory, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    _signal_change(directory.parent, directory.name, "DELETED")
    logger.info("deleted solution version %s", directory)


def settle_abandoned(solution_path: Path) -> None:
    """Write the final status of versions whose training died, and drop their staged arrays.

    Call it holding the solution's writer lock.
    """
    for directory in version_directories(solution_path):
        recorded = read_manifest(directory)
        if recorded["status"] not in UNFINISHED:
            continue
        seen = read_record(directory)
        if seen["status"] in (CREATE_FAILED, CREATE_STOPPED):
            discard_staging(directory)
            write_json(directory / MANIFEST, {**seen, "updated": _now()})
            logger.warning("settled abandoned solution version %s as %s", directory, seen["status"])


def next_version_id(solution_path: Path) -> str:
    """Hand out the next version id; call it holding the solution's writer lock."""
    counter = solution_path / COUNTER
    last = int(read_json(counter)["last"]) if counter.exists() else 0
    existing = [int(path.name[1:]) for path in version_directories(solution_path)]
    number = max([last, *existing]) + 1
    write_json(counter, {"last": number})
    return f"v{number}"


class VersionRun:
    """One version being created: it holds the training lock and moves the record along.

    Create it with :meth:`begin`, holding the solution's writer lock; end it with
    :meth:`execute`, which always leaves a final record.
    """

    def __init__(self, directory: Path, manifest: dict[str, Any], lock: int) -> None:
        self.directory = directory
        self.manifest = manifest
        self._lock = lock

    @property
    def version_id(self) -> str:
        """The version's id."""
        return self.directory.name

    @classmethod
    def begin(cls, solution_path: Path, manifest: Mapping[str, Any]) -> VersionRun:
        """Allocate the next version, take its training lock and record it CREATE PENDING."""
        settle_abandoned(solution_path)
        version_id = next_version_id(solution_path)
        directory = solution_path / version_id
        directory.mkdir(parents=True)
        lock = os.open(directory / TRAINING_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        run = cls(directory, {**manifest, "version_id": version_id}, lock)
        run._record(CREATE_PENDING)
        return run

    def checkpoint(self) -> None:
        """Raise :class:`StopRequestedError` if a stop was asked for; call it between steps."""
        if (self.directory / STOP_MARKER).exists():
            raise StopRequestedError(self.version_id)

    def execute(
        self, work: Callable[[VersionRun], tuple[dict[str, Any], Mapping[str, np.ndarray]]]
    ) -> str:
        """Run ``work`` and commit its manifest and arrays; return the final status.

        ``work`` receives this run (to call :meth:`checkpoint`) and returns the finished
        manifest and arrays. A stop ends it ``CREATE STOPPED``; an error ends it
        ``CREATE FAILED`` with the error's message as the reason, and is raised again.
        """
        try:
            self.checkpoint()
            self._record(CREATE_IN_PROGRESS)
            with stop_checks(self.checkpoint):  # recipes check between iterations too
                manifest, arrays = work(self)
            self.checkpoint()
            manifest = {**manifest, "status": ACTIVE, "updated": _now()}
            write_artifact(self.directory, manifest, arrays)
            self.manifest = manifest
            _signal_change(self.directory.parent, self.version_id, ACTIVE)
            return ACTIVE
        except StopRequestedError:
            self._end(CREATE_STOPPED)
            return CREATE_STOPPED
        except BaseException as error:
            self._end(CREATE_FAILED, str(error) or type(error).__name__)
            raise
        finally:
            self._release()

    def _record(self, status: str) -> None:
        self.manifest = {**self.manifest, "status": status, "updated": _now()}
        write_json(self.directory / MANIFEST, self.manifest)
        _signal_change(self.directory.parent, self.version_id, status)

    def _end(self, status: str, reason: str | None = None) -> None:
        """Discard staged arrays and write the final record."""
        discard_staging(self.directory)
        if reason is not None:
            self.manifest = {**self.manifest, "failure_reason": reason}
        self._record(status)
        logger.info("solution version %s is %s", self.directory, status)

    def _release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)


def _signal_change(solution_path: Path, version_id: str, status: str) -> None:
    """Replace the solution's ``.changed`` file, which watchers of the solution ``stat``."""
    note = {"version_id": version_id, "status": status, "at": _now()}
    write_json(solution_path / CHANGED, note)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
