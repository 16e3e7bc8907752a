"""Reading Avro container files into a table of strings.

The records' fields are matched to schema fields by name, ignoring case and order, as for a
CSV file. Each value is turned into the text a CSV file would hold (``true``/``false`` for
booleans, the empty string for a null), so that an Avro import passes through exactly the
same validation as a CSV import. Problems name the record by its 1-based position in the file.

Limitation: fastavro reads records one at a time, so an Avro import spends a Python step per
record; it is several times slower than a CSV import of the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InvalidInputError
from engine.schema import Schema
from engine.store.csv_import import match_columns
from engine.store.validation import RowNumbers

__all__ = ["read_avro_strings"]


def read_avro_strings(path: Path, schema: Schema) -> tuple[pa.Table, RowNumbers]:
    """Read an Avro container file as strings, one column per schema field.

    Parameters
    ----------
    path
        An Avro object container file whose record fields name the schema's fields.
    schema
        The dataset's schema.

    Returns
    -------
    tuple
        The table (columns named and ordered as the schema's fields) and a function from a
        0-based table index to the 1-based record number.

    Raises
    ------
    InvalidInputError
        The file is missing, is not an Avro container, or its fields do not match the schema.
    """
    writer_fields, records = _read_records(path)
    field_names = match_columns(writer_fields, schema, path.name)

    columns = {
        name: _as_strings([record.get(source) for record in records])
        for source, name in zip(writer_fields, field_names, strict=True)
    }
    table = pa.table({field.name: columns[field.name] for field in schema.fields})
    return table, lambda index: index + 1


def _read_records(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the writer schema's field names and every record of the file."""
    try:
        with path.open("rb") as stream:
            reader = fastavro.reader(stream)
            writer_schema = reader.writer_schema
            records = [record for record in reader if isinstance(record, dict)]
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist; give the path of an Avro file") from None
    except (ValueError, EOFError, fastavro.read.SchemaResolutionError) as error:
        raise InvalidInputError(f"{path.name} is not a readable Avro container: {error}") from None

    if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
        raise InvalidInputError(f"{path.name} does not hold records; its schema must be a record")
    return [str(field["name"]) for field in writer_schema["fields"]], records


def _as_strings(values: list[Any]) -> pa.Array:
    """Render values as CSV cells would read: text, lowercase booleans, empty for null."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A union of several types: render each value on its own.
        array = pa.array([_render(value) for value in values], pa.string())
    if pa.types.is_null(array.type):
        return pa.array([""] * len(values), pa.string())
    return pc.fill_null(pc.cast(array, pa.string()), "")


def _render(value: Any) -> str | None:
    """One value as a CSV cell would hold it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
