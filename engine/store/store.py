"""The store: one root directory holding every dataset group.

Layout::

    <root>/.writer.lock                         the single-writer lock
    <root>/groups/<name>/group.json             the group (its presence is the commit point)
    <root>/groups/<name>/datasets/<TYPE>/...    see :mod:`engine.store.dataset`
    <root>/groups/<name>/cache/<fingerprint>/   see :mod:`engine.store.cache`

Every write holds the lock (:func:`engine.store.files.writer_lock`): a second writer is
refused at once with :class:`~engine.errors.InUseError`. Readers never take it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from engine.store.files import LOCK_FILE, write_json, writer_lock
from engine.store.group import DatasetGroup

__all__ = ["DEFAULT_ROOT", "HOME_VARIABLE", "Store"]

logger = logging.getLogger(__name__)

HOME_VARIABLE = "RECENGINE_HOME"
DEFAULT_ROOT = "recengine-data"
GROUPS = "groups"
GROUP_FILE = "group.json"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}")


class Store:
    """A recengine store on disk; opening one creates nothing until the first write.

    Parameters
    ----------
    root
        The store's directory. ``None`` uses the ``RECENGINE_HOME`` environment variable, or
        ``./recengine-data`` when it is unset.

    Examples
    --------
    >>> store = Store("recengine-data")  # doctest: +SKIP
    >>> group = store.create_dataset_group("videos")  # doctest: +SKIP
    >>> [group.name for group in store.list_dataset_groups()]  # doctest: +SKIP
    ['videos']
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            root = os.environ.get(HOME_VARIABLE) or DEFAULT_ROOT
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def create_dataset_group(self, name: str) -> DatasetGroup:
        """Create an empty dataset group.

        Raises
        ------
        InvalidInputError
            ``name`` is not 1-63 letters, digits, ``-`` or ``_`` starting with a letter or digit.
        AlreadyExistsError
            A group of that name exists.
        InUseError
            Another writer holds the lock.
        """
        check_name(name)
        group = DatasetGroup(self.root, name)
        with writer_lock(self.root):
            if (group.path / GROUP_FILE).exists():
                raise AlreadyExistsError(f"dataset group {name!r} exists already")
            created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            write_json(
                group.path / GROUP_FILE, {"name": name, "status": "ACTIVE", "created": created}
            )
        logger.info("created dataset group %s in %s", name, self.root)
        return group

    def dataset_group(self, name: str) -> DatasetGroup:
        """Open an existing dataset group.

        Raises
        ------
        NotFoundError
            No group has that name.
        """
        check_name(name)
        group = DatasetGroup(self.root, name)
        if not (group.path / GROUP_FILE).exists():
            raise NotFoundError(f"dataset group {name!r} does not exist")
        return group

    def list_dataset_groups(self) -> list[DatasetGroup]:
        """Every dataset group, sorted by name."""
        directory = self.root / GROUPS
        if not directory.is_dir():
            return []
        names = sorted(path.name for path in directory.iterdir() if (path / GROUP_FILE).exists())
        return [DatasetGroup(self.root, name) for name in names]

    def delete_dataset_group(self, name: str) -> None:
        """Delete a dataset group with its datasets and caches.

        The group directory is first renamed aside, so the group disappears at once even if
        removing its files is interrupted.

        Raises
        ------
        NotFoundError
            No group has that name.
        InUseError
            Another writer holds the store's lock, or a lock within the group (a solution
            being trained, campaigns being changed).
        """
        group = self.dataset_group(name)
        with writer_lock(self.root), _writer_locks_within(group.path):
            doomed = group.path.with_name(f".deleted-{name}-{uuid.uuid4().hex[:8]}")
            group.path.rename(doomed)
            shutil.rmtree(doomed)
        logger.info("deleted dataset group %s", name)


@contextlib.contextmanager
def _writer_locks_within(directory: Path) -> Iterator[None]:
    """Hold every writer lock below ``directory``, so that no writer works inside it."""
    with contextlib.ExitStack() as locks:
        for lock in sorted(directory.rglob(LOCK_FILE)):
            locks.enter_context(writer_lock(lock.parent))
        yield


def check_name(name: str) -> None:
    """Check a resource name against the service's rule.

    Raises
    ------
    InvalidInputError
        The name is not 1-63 characters of ``[a-zA-Z0-9-_]`` starting with a letter or digit.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"name {name!r} is not valid: use 1-63 letters, digits, '-' or '_', "
            "starting with a letter or a digit"
        )
