"""A dataset group: up to one dataset of each type, and the imports into them."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from engine.schema import DATASET_TYPES, Schema, normalize_dataset_type, parse_schema
from engine.store.cache import InteractionCache, load_or_build_cache
from engine.store.dataset import MANIFEST, SCHEMA, SEGMENTS, Dataset, new_manifest
from engine.store.files import atomic_write, write_json, writer_lock
from engine.store.importing import ImportJob, run_import

__all__ = ["DatasetGroup"]

logger = logging.getLogger(__name__)

DATASETS = "datasets"

SchemaSource = Schema | str | os.PathLike[str] | Mapping[str, Any]


class DatasetGroup:
    """A named container of datasets, stored under ``<root>/groups/<name>``.

    Obtain one from :meth:`engine.store.Store.create_dataset_group` or
    :meth:`engine.store.Store.dataset_group`.

    Parameters
    ----------
    root
        The store's root directory (where the writer lock lives).
    name
        The group's name.

    Examples
    --------
    >>> group = Store("recengine-data").create_dataset_group("videos")  # doctest: +SKIP
    >>> group.create_dataset("INTERACTIONS", "schemas/interactions.json")  # doctest: +SKIP
    >>> group.import_csv("INTERACTIONS", "interactions.csv").rows_imported  # doctest: +SKIP
    158371
    """

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.path = root / "groups" / name
        self._manifests = {
            kind: str(self.path / DATASETS / kind / MANIFEST) for kind in DATASET_TYPES
        }

    def __repr__(self) -> str:
        return f"DatasetGroup({self.name!r})"

    def create_dataset(self, dataset_type: str, schema: SchemaSource) -> Dataset:
        """Create the group's dataset of ``dataset_type`` with ``schema``.

        Parameters
        ----------
        dataset_type
            ``Interactions``, ``Users`` or ``Items`` (any case).
        schema
            A :class:`~engine.schema.Schema`, or Avro JSON text, a path to it, or its parsed
            mapping.

        Raises
        ------
        AlreadyExistsError
            The group has a dataset of that type already.
        InvalidInputError
            A Schema of another dataset type was given.
        SchemaError
            The schema breaks a rule of the service.
        """
        kind = normalize_dataset_type(dataset_type)
        checked = self._checked_schema(kind, schema)
        directory = self.path / DATASETS / kind
        with writer_lock(self.root):
            if (directory / MANIFEST).exists():
                raise AlreadyExistsError(
                    f"dataset group {self.name!r} has a {kind} dataset already; "
                    "a group holds one dataset of each type"
                )
            (directory / SEGMENTS).mkdir(parents=True, exist_ok=True)
            atomic_write(directory / SCHEMA, checked.to_json().encode())
            write_json(directory / MANIFEST, new_manifest(kind))
        logger.info("created %s dataset in group %s", kind, self.name)
        return Dataset(directory)

    @staticmethod
    def _checked_schema(kind: str, schema: SchemaSource) -> Schema:
        """Parse ``schema`` for ``kind``, or check that a given Schema is of that kind."""
        if not isinstance(schema, Schema):
            return parse_schema(schema, kind)
        if schema.dataset_type != kind:
            raise InvalidInputError(
                f"the schema is for {schema.dataset_type}, not {kind}; "
                f"give a schema parsed for {kind}"
            )
        return schema

    def dataset(self, dataset_type: str) -> Dataset:
        """Return the group's dataset of ``dataset_type``.

        Raises
        ------
        NotFoundError
            The group has no dataset of that type.
        """
        kind = normalize_dataset_type(dataset_type)
        directory = self.path / DATASETS / kind
        if not (directory / MANIFEST).exists():
            raise NotFoundError(
                f"dataset group {self.name!r} has no {kind} dataset; create it first"
            )
        return Dataset(directory)

    def datasets(self) -> list[Dataset]:
        """The group's datasets, in the order Interactions, Users, Items."""
        return [
            Dataset(self.path / DATASETS / kind)
            for kind in DATASET_TYPES
            if (self.path / DATASETS / kind / MANIFEST).exists()
        ]

    def dataset_stamps(self) -> dict[str, tuple[int, int, int] | None]:
        """A token per dataset type that changes whenever that dataset's segments do.

        Each is the manifest file's inode, modification time and size (one ``stat``), or
        None when the group has no such dataset, so that a reader keeping data derived from a
        dataset can tell cheaply when to read it again. Rows put one call at a time go to the
        event log instead (see :mod:`engine.store.event_log`).
        """
        stamps: dict[str, tuple[int, int, int] | None] = {}
        for kind, manifest in self._manifests.items():
            try:
                found = os.stat(manifest)
            except FileNotFoundError:
                stamps[kind] = None
                continue
            stamps[kind] = (found.st_ino, found.st_mtime_ns, found.st_size)
        return stamps

    def import_csv(
        self,
        dataset_type: str,
        path: str | os.PathLike[str],
        mode: str = "FULL",
        show_progress: bool = False,
    ) -> ImportJob:
        """Import a CSV file in the service's bulk format into a dataset.

        See :mod:`engine.store.importing` for the modes and :mod:`engine.store.csv_import`
        for the format and row numbers.

        Parameters
        ----------
        dataset_type
            The dataset to import into.
        path
            The CSV file; its header names the schema's fields, in any order and case.
        mode
            ``FULL`` replaces earlier bulk imports; ``INCREMENTAL`` adds to them.
        show_progress
            Show a progress bar.

        Returns
        -------
        ImportJob

        Raises
        ------
        ValidationError
            Rows break the schema; every earlier file is left untouched.
        InvalidInputError
            The file or the mode is unusable.
        InUseError
            Another writer holds the store's lock.
        """
        return self._import(dataset_type, path, mode, "csv", show_progress)

    def import_avro(
        self,
        dataset_type: str,
        path: str | os.PathLike[str],
        mode: str = "FULL",
        show_progress: bool = False,
    ) -> ImportJob:
        """Import an Avro container file into a dataset, validated as a CSV import is.

        Parameters and errors are those of :meth:`import_csv`; problems name the 1-based
        record number.
        """
        return self._import(dataset_type, path, mode, "avro", show_progress)

    def _import(
        self,
        dataset_type: str,
        path: str | os.PathLike[str],
        mode: str,
        file_format: str,
        show_progress: bool,
    ) -> ImportJob:
        """Run an import holding the writer lock."""
        with writer_lock(self.root):
            dataset = self.dataset(dataset_type)
            return run_import(
                dataset, Path(path), mode=mode, file_format=file_format, show_progress=show_progress
            )

    def interaction_cache(self) -> InteractionCache:
        """The interactions as integer codes, from the cache or built now.

        Raises
        ------
        NotFoundError
            The group has no Interactions dataset.
        """
        interactions = self.dataset("INTERACTIONS")
        items = (
            self.dataset("ITEMS") if (self.path / DATASETS / "ITEMS" / MANIFEST).exists() else None
        )
        return load_or_build_cache(self.path, interactions, items)
