"""Import jobs: a file read, validated and committed to a dataset as one new segment.

An import is atomic. The file is read and every row validated before anything is written;
then one Parquet segment is written and the dataset's manifest is replaced to name it. If any
step fails, the manifest and every earlier segment are left as they were.

Modes, as the service defines them:

- ``FULL`` replaces every previously bulk-imported row. Segments that came from live events
  are kept.
- ``INCREMENTAL`` adds rows, and is only allowed after an earlier import. In Users and Items a
  row whose id exists already replaces the old row (resolved when the dataset is read; within
  one file the last row of an id wins too).

Exact duplicate rows in Interactions: an import keeps one copy of rows that are identical in
every column and drops the others, logs how many at INFO and reports the number in
:attr:`ImportJob.duplicates_dropped`. Duplicates are looked for within the imported file only;
a row repeated across two imports is kept twice.

Limitation: the service's minimum of 1000 rows per Interactions import is not enforced, so
that small examples and tests can be imported.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.errors import InvalidInputError, Problem
from engine.progress import progress_steps
from engine.store.avro_import import read_avro_strings
from engine.store.csv_import import read_csv_strings
from engine.store.dataset import (
    ID_COLUMNS,
    SEGMENTS,
    Dataset,
    commit_manifest,
    write_segment,
)
from engine.store.duplicates import duplicate_positions
from engine.store.validation import RowNumbers, validate_table

__all__ = ["IMPORT_MODES", "ImportJob", "run_import"]

logger = logging.getLogger(__name__)

IMPORT_MODES = ("FULL", "INCREMENTAL")
_KEPT_IMPORT_RECORDS = 100


@dataclass(frozen=True)
class ImportJob:
    """A finished import: what was imported where, how many rows, how long it took.

    Attributes
    ----------
    name : str
        A unique job name, ``import-<type>-<UTC time>-<random>``.
    dataset_type : str
        ``INTERACTIONS``, ``USERS`` or ``ITEMS``.
    mode : str
        ``FULL`` or ``INCREMENTAL``.
    file : str
        The imported file's path.
    rows_imported : int
        Rows stored (after exact duplicates were dropped).
    duplicates_dropped : int
        Exact duplicate rows left out (Interactions only; 0 otherwise).
    seconds : float
        Wall time of the import.
    status : str
        ``ACTIVE``: a job object only exists for an import that succeeded.
    """

    name: str
    dataset_type: str
    mode: str
    file: str
    rows_imported: int
    duplicates_dropped: int
    seconds: float
    status: str = "ACTIVE"


def run_import(
    dataset: Dataset,
    path: Path,
    *,
    mode: str,
    file_format: str,
    show_progress: bool = False,
) -> ImportJob:
    """Import one file into ``dataset``; the caller holds the writer lock.

    Parameters
    ----------
    dataset
        The dataset to import into.
    path
        The CSV or Avro container file.
    mode
        ``FULL`` or ``INCREMENTAL`` (any case).
    file_format
        ``"csv"`` or ``"avro"``.
    show_progress
        Show a progress bar over the import's steps.

    Returns
    -------
    ImportJob

    Raises
    ------
    InvalidInputError
        Unknown mode, INCREMENTAL before any import, an unreadable file, mismatched columns or
        a file without data rows.
    ValidationError
        Rows break the schema; nothing was stored.
    """
    started = time.perf_counter()
    mode = check_mode(mode, dataset)

    with progress_steps(show_progress, 3, f"import {path.name}") as step:
        step("reading")
        strings, row_numbers, ragged = _read(path, dataset, file_format)
        step("validating")
        table = validate_table(
            strings, dataset.schema, file=path.name, row_numbers=row_numbers, extra=ragged
        )
        table, duplicates = _drop_duplicates(table, dataset.dataset_type, path.name)
        step("writing")
        job = _new_job(dataset, path, mode, table.num_rows, duplicates)
        _commit(dataset, table, mode, job)

    seconds = time.perf_counter() - started
    job = ImportJob(**{**asdict(job), "seconds": round(seconds, 3)})
    logger.info(
        "imported %d rows into %s in %.1f s", job.rows_imported, dataset.dataset_type, seconds
    )
    return job


def check_mode(mode: str, dataset: Dataset) -> str:
    """Normalise ``mode`` and check that the dataset allows it."""
    normalized = mode.upper() if isinstance(mode, str) else mode
    if normalized not in IMPORT_MODES:
        raise InvalidInputError(f"mode must be one of {list(IMPORT_MODES)}, not {mode!r}")
    if normalized == "INCREMENTAL" and not dataset.manifest()["imports"]:
        raise InvalidInputError(
            f"an INCREMENTAL import into {dataset.dataset_type} needs an earlier import; "
            "import the first file with mode='FULL'"
        )
    return str(normalized)


def _read(
    path: Path, dataset: Dataset, file_format: str
) -> tuple[pa.Table, RowNumbers, list[Problem]]:
    """Read the file as strings, refusing a file without data rows."""
    if file_format == "csv":
        strings, row_numbers, ragged = read_csv_strings(path, dataset.schema)
    else:
        strings, row_numbers = read_avro_strings(path, dataset.schema)
        ragged = []
    if strings.num_rows == 0 and not ragged:
        raise InvalidInputError(f"{path.name} holds no data rows; nothing to import")
    return strings, row_numbers, ragged


def _drop_duplicates(table: pa.Table, dataset_type: str, file: str) -> tuple[pa.Table, int]:
    """Keep the first of rows identical in every column (Interactions only)."""
    if dataset_type != "INTERACTIONS":
        return table, 0
    duplicates = duplicate_positions(table)
    if not duplicates.size:
        return table, 0

    keep = np.ones(table.num_rows, dtype=bool)
    keep[duplicates] = False
    logger.info("dropped %d exact duplicate row(s) of %s", duplicates.size, file)
    return table.filter(pa.array(keep)), int(duplicates.size)


def _new_job(dataset: Dataset, path: Path, mode: str, rows: int, duplicates: int) -> ImportJob:
    """The job record of an import about to be committed."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    name = f"import-{dataset.dataset_type.lower()}-{stamp}-{uuid.uuid4().hex[:6]}"
    return ImportJob(name, dataset.dataset_type, mode, str(path), rows, duplicates, 0.0)


def _commit(dataset: Dataset, table: pa.Table, mode: str, job: ImportJob) -> None:
    """Write the segment, then name it in a new manifest (the commit point)."""
    manifest = dataset.manifest()
    sequence = int(manifest["next_segment"])
    segment = write_segment(dataset.path, table, sequence)

    kept = manifest["segments"]
    if mode == "FULL":
        kept = [entry for entry in kept if entry["source"] != "bulk"]
    entry = {"file": segment, "source": "bulk", "rows": table.num_rows, "job": job.name}
    manifest["segments"] = [*kept, entry]
    manifest["next_segment"] = sequence + 1
    manifest["num_rows"] = _live_rows(dataset, manifest["segments"])
    manifest["imports"] = [*manifest["imports"], asdict(job)][-_KEPT_IMPORT_RECORDS:]
    commit_manifest(dataset.path, manifest)


def _live_rows(dataset: Dataset, segments: list[dict[str, Any]]) -> int:
    """Rows a reader will see: all of them, or for Users and Items the distinct ids."""
    id_column = ID_COLUMNS.get(dataset.dataset_type)
    if id_column is None:
        return sum(int(entry["rows"]) for entry in segments)
    directory = dataset.path / SEGMENTS
    ids = [pq.read_table(directory / e["file"], columns=[id_column]) for e in segments]
    return int(pc.count_distinct(pa.concat_tables(ids).column(id_column)).as_py())
