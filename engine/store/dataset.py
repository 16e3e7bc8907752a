"""A dataset on disk: its schema, its Parquet segments and the manifest that lists them.

Layout of one dataset::

    datasets/<TYPE>/schema.json       the Avro schema, as given
    datasets/<TYPE>/dataset.json      the manifest: segments, counts, import history
    datasets/<TYPE>/segments/*.parquet

The manifest is the commit point. A segment file is complete before the manifest names it, and
the manifest is replaced atomically, so a reader sees the dataset before an import or after
it, never in between. Segment files the manifest no longer names are deleted afterwards.

Each segment entry records its ``source``: ``"bulk"`` for an import job, ``"events"`` for live
events compacted into a segment. A FULL import replaces the bulk segments only.

Rows put one call at a time (``put_events``, ``put_users``, ``put_items``) wait in the group's
append-only log (:mod:`engine.store.event_log`); a reader sees them after the segments' rows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.schema import Schema, parse_schema
from engine.store.event_log import EventLog
from engine.store.files import atomic_open, read_json, write_json
from engine.store.validation import ARROW_TYPES

__all__ = ["ID_COLUMNS", "Dataset", "latest_by_id", "new_manifest"]

logger = logging.getLogger(__name__)

ID_COLUMNS = {"USERS": "USER_ID", "ITEMS": "ITEM_ID"}
"""The column whose value identifies a row, for the dataset types where a row replaces another."""

MANIFEST = "dataset.json"
SCHEMA = "schema.json"
SEGMENTS = "segments"
_READ_ATTEMPTS = 3


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def new_manifest(dataset_type: str) -> dict[str, Any]:
    """The manifest of a dataset that holds no data yet."""
    created = now()
    return {
        "dataset_type": dataset_type,
        "status": "ACTIVE",
        "created": created,
        "updated": created,
        "next_segment": 1,
        "segments": [],
        "num_rows": 0,
        "imports": [],
    }


class Dataset:
    """One dataset of a dataset group, read from its directory.

    Reading never takes the writer lock: each call reads the current manifest and the
    segments it names.

    Parameters
    ----------
    path
        The dataset's directory, ``groups/<group>/datasets/<TYPE>``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dataset_type = path.name
        self.schema: Schema = parse_schema(read_json(path / SCHEMA), self.dataset_type)

    def __repr__(self) -> str:
        return f"Dataset({self.dataset_type!r}, rows={self.num_rows})"

    def manifest(self) -> dict[str, Any]:
        """The current manifest, as committed by the last write."""
        manifest: dict[str, Any] = read_json(self.path / MANIFEST)
        return manifest

    @property
    def num_rows(self) -> int:
        """Rows a reader sees (for Users and Items, one per id)."""
        return int(self.manifest()["num_rows"])

    @property
    def event_log(self) -> EventLog:
        """The group's log of rows put one call at a time."""
        return EventLog(self.path.parent.parent)

    @property
    def fingerprint(self) -> str:
        """sha256 over the segment list and the log's length: it changes whenever the data does."""
        return segments_fingerprint(self.manifest()["segments"], self.event_log.committed_size())

    def read_table(self, columns: list[str] | None = None) -> pa.Table:
        """Read every live segment into one table, typed as the schema says.

        Parameters
        ----------
        columns
            Field names to read (any case); all fields when ``None``.

        Returns
        -------
        pyarrow.Table
            Rows in import order. For Users and Items, one row per id: the last written wins.
        """
        names = [field.name for field in self.schema.fields]
        if columns is not None:
            names = [self.schema.field(column).name for column in columns]

        for attempt in range(_READ_ATTEMPTS):
            try:
                return self.read_snapshot(self.manifest(), names)
            except FileNotFoundError:
                # A writer removed a superseded segment after we read the manifest: read again.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def read_snapshot(
        self,
        manifest: dict[str, Any],
        names: list[str],
        log_end: int | None = None,
        dictionary: Sequence[str] = (),
    ) -> pa.Table:
        """Read the segments ``manifest`` names and the logged rows, keeping the latest per id.

        ``log_end`` bounds the part of the event log read (``None``: all of it), so that a
        snapshot matches a fingerprint taken earlier. The string columns named in
        ``dictionary`` come back dictionary-encoded, as Parquet stores them, which spares
        materialising a string per row.

        Raises ``FileNotFoundError`` if a writer has removed a segment since ``manifest`` was
        read; read the manifest again and retry.
        """
        id_column = ID_COLUMNS.get(self.dataset_type)
        wanted = names if id_column is None or id_column in names else [id_column, *names]
        segments = self.path / SEGMENTS
        tables = [
            pq.read_table(
                segments / entry["file"], columns=wanted, read_dictionary=list(dictionary) or None
            )
            for entry in manifest["segments"]
        ]
        logged = self.event_log.rows(self.dataset_type, log_end)
        if logged:
            table = pa.Table.from_pylist(logged, schema=arrow_schema(self.schema))
            tables.append(dictionary_encoded(table.select(wanted), dictionary))
        if not tables:
            return self.empty_table().select(names)

        table = pa.concat_tables(tables)
        if id_column is not None:
            table = latest_by_id(table, id_column)
        return table.select(names)

    def empty_table(self) -> pa.Table:
        """A table with the schema's columns and no rows."""
        return arrow_schema(self.schema).empty_table()

    def describe(self) -> dict[str, Any]:
        """The dataset's state: type, status, counts, fingerprint, schema and last import."""
        manifest = self.manifest()
        imports = manifest["imports"]
        return {
            "dataset_type": self.dataset_type,
            "status": manifest["status"],
            "created": manifest["created"],
            "updated": manifest["updated"],
            "num_rows": manifest["num_rows"],
            "num_segments": len(manifest["segments"]),
            "fingerprint": segments_fingerprint(
                manifest["segments"], self.event_log.committed_size()
            ),
            "schema": self.schema.avro,
            "last_import": imports[-1] if imports else None,
        }


def arrow_schema(schema: Schema) -> pa.Schema:
    """The Arrow schema of a dataset's stored table."""
    return pa.schema(
        [pa.field(f.name, ARROW_TYPES[f.type], nullable=f.nullable) for f in schema.fields]
    )


def dictionary_encoded(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """``table`` with the columns ``names`` dictionary-encoded, as Parquet reads them."""
    for name in names:
        index = table.schema.get_field_index(name)
        encoded = table.column(index).dictionary_encode()
        table = table.set_column(index, table.schema.field(index).with_type(encoded.type), encoded)
    return table


def segments_fingerprint(segments: list[dict[str, Any]], log_end: int = 0) -> str:
    """sha256 over a segment list in its canonical JSON form and the event log's length."""
    value: Any = segments if log_end == 0 else {"segments": segments, "log_end": log_end}
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def latest_by_id(table: pa.Table, id_column: str) -> pa.Table:
    """Keep the last row of each id, in the original order of the rows kept."""
    if table.num_rows == 0:
        return table
    positions = pa.array(np.arange(table.num_rows, dtype=np.int64))
    keyed = pa.table({"id": table.column(id_column), "position": positions})
    last = keyed.group_by("id", use_threads=False).aggregate([("position", "max")])
    keep = pc.sort_indices(last.column("position_max"))
    return table.take(pc.take(last.column("position_max"), keep))


def write_segment(dataset_path: Path, table: pa.Table, sequence: int) -> str:
    """Write ``table`` as a new Parquet segment and return its file name.

    The file is written to a temporary name, fsynced and renamed, so a segment file is either
    complete or absent.
    """
    name = f"{sequence:06d}-{uuid.uuid4().hex[:12]}.parquet"
    with atomic_open(dataset_path / SEGMENTS / name) as stream:
        pq.write_table(table, stream, compression="zstd")
    return name


def commit_manifest(dataset_path: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically, then delete segment files it no longer names."""
    manifest["updated"] = now()
    write_json(dataset_path / MANIFEST, manifest)
    remove_unlisted_segments(dataset_path, manifest)


def remove_unlisted_segments(dataset_path: Path, manifest: dict[str, Any]) -> None:
    """Delete segment files the manifest does not name, and temporary files of a crashed write.

    Only the writer holding the lock calls this, so no write of another is in flight.
    """
    live = {entry["file"] for entry in manifest["segments"]}
    for path in (dataset_path / SEGMENTS).iterdir():
        if path.name not in live:
            logger.debug("removing unlisted file %s", path)
            path.unlink(missing_ok=True)
