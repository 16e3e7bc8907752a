"""The append-only log of live writes: events, users and items put one call at a time.

Layout::

    groups/<name>/events/events.jsonl    one JSON line per accepted call

Each line is one call, all its rows together::

    {"dataset": "INTERACTIONS", "rows": [{"USER_ID": "u1", "ITEM_ID": "i7", ...}],
     "meta": [{"event_id": "...", "session_id": "...", ...}], "at": "2024-05-01T12:00:00+00:00"}

``rows`` are already validated and typed as the dataset's schema says (column names as the
schema spells them); ``meta`` carries what the schema has no column for (event ids,
sessions, impressions), one entry per row, or is absent.

Durability. An append holds an exclusive ``flock`` on the log (appends from every thread
and process are serialised, never interleaved), writes the whole line, newline included,
with one ``os.write`` on a descriptor opened with ``O_APPEND``, then ``os.fsync`` before it
returns. So once :meth:`EventLog.append` returns, the line is on disk and survives a crash
of the process (``kill -9``) or of the machine. A process killed mid-write can leave at most
one torn last line without its newline: readers only read up to the last newline, and the
next append, under the lock, truncates the torn bytes before writing.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.store.files import fsync_directory
from engine.store.sessions import INTERACTIONS, joined_rows, session_joins

__all__ = ["EVENT_LOG", "EventLog", "LogRecord"]

logger = logging.getLogger(__name__)

EVENTS_DIRECTORY = "events"
EVENT_LOG = "events.jsonl"
_READ_CHUNK = 1 << 20

LogRecord = dict[str, Any]
"""One decoded line: ``dataset``, ``rows``, optionally ``meta``, and ``at``."""


class EventLog:
    """The append-only log of one dataset group.

    Parameters
    ----------
    group_path
        The dataset group's directory.

    Examples
    --------
    >>> log = EventLog(group.path)  # doctest: +SKIP
    >>> log.append("INTERACTIONS", [{"USER_ID": "u1", "ITEM_ID": "i7", "TIMESTAMP": 1}])
    >>> records, end = log.read()  # doctest: +SKIP
    """

    def __init__(self, group_path: Path) -> None:
        self.path = group_path / EVENTS_DIRECTORY / EVENT_LOG

    def __repr__(self) -> str:
        return f"EventLog({str(self.path)!r})"

    def size(self) -> int:
        """Bytes in the file now (a torn last line included); 0 when there is no log."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def committed_size(self) -> int:
        """Bytes up to and including the last newline: the lines a reader sees."""
        size = self.size()
        if size == 0:
            return 0
        with self.path.open("rb") as stream:
            return _last_newline_end(stream, size)

    def append(
        self,
        dataset_type: str,
        rows: Sequence[dict[str, Any]],
        meta: Sequence[dict[str, Any]] | None = None,
    ) -> int:
        """Append one call's rows durably; return the log's size after the line.

        The line is on disk (fsynced) when this returns.
        """
        record: LogRecord = {"dataset": dataset_type, "rows": list(rows)}
        if meta is not None:
            record["meta"] = list(meta)
        record["at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()

        with self._locked_descriptor() as handle:
            _truncate_torn_tail(handle)
            _write_all(handle, line)
            os.fsync(handle)
            return os.fstat(handle).st_size

    def read(self, start: int = 0, end: int | None = None) -> tuple[list[LogRecord], int]:
        """Decode the complete lines between byte ``start`` and ``end``.

        Parameters
        ----------
        start
            A line boundary: 0 or an offset returned by an earlier call.
        end
            Read no further than this; ``None`` reads to the last complete line.

        Returns
        -------
        records, offset
            The decoded lines, and the offset just past the last one (the next ``start``).
        """
        size = self.size() if end is None else end
        if size <= start:
            return [], start
        with self.path.open("rb") as stream:
            stream.seek(start)
            data = stream.read(size - start)
        complete = data.rfind(b"\n") + 1
        records = [json.loads(line) for line in data[:complete].splitlines() if line]
        return records, start + complete

    def rows(self, dataset_type: str, end: int | None = None) -> list[dict[str, Any]]:
        """Every logged row of ``dataset_type``, oldest first, up to byte ``end``.

        Interactions rows of anonymous sessions that an event joined to a user carry that
        user's id (see :mod:`engine.store.sessions`).
        """
        records, _ = self.read(0, end)
        if dataset_type == INTERACTIONS:
            return joined_rows(records)
        return [
            row for record in records if record["dataset"] == dataset_type for row in record["rows"]
        ]

    def session_joins(self, end: int | None = None) -> dict[str, str]:
        """Session id → user id for the sessions joined to a user up to byte ``end``."""
        records, _ = self.read(0, end)
        return session_joins(records)

    @contextlib.contextmanager
    def _locked_descriptor(self) -> Iterator[int]:
        """Open the log for appending and hold its exclusive lock (waiting for it)."""
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if created:
                fsync_directory(self.path.parent)
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)


def _last_newline_end(stream: Any, size: int) -> int:
    """Offset just past the last newline in the first ``size`` bytes of ``stream``."""
    position = size
    while position > 0:
        start = max(0, position - _READ_CHUNK)
        stream.seek(start)
        found = stream.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


def _truncate_torn_tail(handle: int) -> None:
    """Cut a last line left without its newline by a writer that died mid-write."""
    size = os.fstat(handle).st_size
    if size == 0 or os.pread(handle, 1, size - 1) == b"\n":
        return
    with os.fdopen(os.dup(handle), "rb") as stream:
        end = _last_newline_end(stream, size)
    if end < size:
        logger.warning("truncating a torn last line of %d bytes in the event log", size - end)
        os.ftruncate(handle, end)


def _write_all(handle: int, line: bytes) -> None:
    """Write ``line`` with one ``os.write``; a short write (disk full) is undone and raised."""
    before = os.fstat(handle).st_size
    try:
        written = os.write(handle, line)
        if written != len(line):
            raise OSError(f"short write to the event log: {written} of {len(line)} bytes")
    except BaseException:
        os.ftruncate(handle, before)
        raise
