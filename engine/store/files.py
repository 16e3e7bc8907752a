"""Durable file writes and the single-writer lock.

Every write goes to a temporary file in the same directory, is fsynced, then renamed over
the target, so a reader sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from engine.errors import InUseError

LOCK_FILE = ".writer.lock"

__all__ = [
    "LOCK_FILE",
    "atomic_open",
    "atomic_write",
    "fsync_directory",
    "read_json",
    "write_json",
    "writer_lock",
]


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file and a rename."""
    with atomic_open(path) as stream:
        stream.write(data)


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """Open a binary stream whose content replaces ``path`` only if the block succeeds.

    For writers that need a file object (Parquet, ``np.save``) rather than bytes in memory.
    The temporary file is removed if the block raises.

    Examples
    --------
    >>> with atomic_open(directory / "table.parquet") as stream:  # doctest: +SKIP
    ...     pyarrow.parquet.write_table(table, stream)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    # Created as open() creates files, so the umask decides who may read them (mkstemp's
    # files are private to their owner, which a serving process of another user cannot read).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(path.parent)


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    atomic_write(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Hold the store's single-writer lock; a second writer is refused at once.

    Raises
    ------
    InUseError
        Another process (or another thread of this one) holds the lock.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / LOCK_FILE
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUseError(
                f"another writer holds the lock on {root}; wait for it to finish and try again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
