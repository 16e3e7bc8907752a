"""Reading bulk CSV files in the service's format into a table of strings.

The file's first row names the columns; they are matched to schema fields by name, ignoring
case and order. Every cell is read as a string (an empty cell as the empty string) so that
:mod:`engine.store.validation` can check it and report the cell exactly as written.

Quoting follows the service: values may be wrapped in double quotes, and inside a value a
``"`` or a ``\\`` is escaped with a backslash (``"say \\"hi\\""``); a doubled quote (``""``) is
also accepted.

Row numbers
-----------
Problems name the row the way a spreadsheet does: the header is row 1 and the first data row
is row 2. This is the file's line number unless a quoted value spans lines or the file holds
blank lines (blank lines are skipped and not counted).

Limitation: a backslash is an escape character everywhere, as the service's format says, so a
lone backslash in a value is dropped (``C:\\dir`` reads as ``C:dir``); write ``\\\\``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv

from engine.errors import InvalidInputError, Problem
from engine.schema import Schema
from engine.store.validation import RowNumbers

__all__ = ["match_columns", "read_csv_strings"]

HEADER_ROW = 1
FIRST_DATA_ROW = 2


def read_csv_strings(path: Path, schema: Schema) -> tuple[pa.Table, RowNumbers, list[Problem]]:
    """Read a CSV file as strings, one column per schema field.

    Parameters
    ----------
    path
        The CSV file; its header names the schema's fields in any order and case.
    schema
        The dataset's schema.

    Returns
    -------
    tuple
        The table (columns named and ordered as the schema's fields), a function from a
        0-based table index to its row number, and a problem per row with the wrong number
        of values (those rows are left out of the table).

    Raises
    ------
    InvalidInputError
        The file cannot be read, has no header, or its columns do not match the schema.
    """
    header = read_header(path)
    field_names = match_columns(header, schema, path.name)
    positional = [f"column_{index}" for index in range(len(header))]

    table, ragged = _parse(path, positional, use_threads=True)
    if ragged:
        # The multithreaded parser cannot number rows; parse again on one thread to do so.
        table, ragged = _parse(path, positional, use_threads=False)
    table = table.rename_columns(field_names).select([f.name for f in schema.fields])

    skipped = sorted(problem.row for problem in ragged)
    return table, _row_numbers_skipping(skipped), ragged


def read_header(path: Path) -> list[str]:
    """Return the names in the file's first row, stripped of spaces and a byte-order mark."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, escapechar="\\", doublequote=True, strict=False)
            header = next(reader, None)
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist; give the path of a CSV file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidInputError(f"{path.name}: the header cannot be read: {error}") from None
    if not header or not any(name.strip() for name in header):
        raise InvalidInputError(f"{path.name} is empty; its first row must name the columns")
    return [name.strip() for name in header]


def match_columns(header: Sequence[str], schema: Schema, file: str) -> list[str]:
    """Map each header name to the schema field of that name, ignoring case.

    Returns the schema's spelling of each header name, in header order.

    Raises
    ------
    InvalidInputError
        A field has no column, a column has no field, or a name appears twice.
    """
    by_upper = {field.name.upper(): field.name for field in schema.fields}
    seen = [name.upper() for name in header]
    repeated = sorted({name for name in header if seen.count(name.upper()) > 1})
    missing = [field.name for field in schema.fields if field.name.upper() not in seen]
    unknown = [name for name in header if name.upper() not in by_upper]

    reasons = []
    if missing:
        reasons.append(f"{file} is missing the following columns: {missing}")
    if unknown:
        reasons.append(f"{file} has columns that are not in the schema: {unknown}")
    if repeated:
        reasons.append(f"{file} names these columns more than once: {repeated}")
    if reasons:
        fields = [field.name for field in schema.fields]
        raise InvalidInputError("; ".join(reasons) + f". The schema's fields are {fields}.")
    return [by_upper[name.upper()] for name in header]


def _parse(
    path: Path, column_names: list[str], *, use_threads: bool
) -> tuple[pa.Table, list[Problem]]:
    """Parse the data rows, every column as strings; collect rows of the wrong width."""
    ragged: list[Problem] = []

    def keep_aside(row: pv.InvalidRow) -> str:
        number = row.number if row.number is not None else 0
        expected = f"{row.expected_columns} values, as the header has (found {row.actual_columns})"
        ragged.append(Problem(path.name, number, "(row)", row.text, expected))
        return "skip"

    read_options = pv.ReadOptions(
        use_threads=use_threads, skip_rows=HEADER_ROW, column_names=column_names
    )
    parse_options = pv.ParseOptions(
        escape_char="\\", newlines_in_values=True, invalid_row_handler=keep_aside
    )
    convert_options = pv.ConvertOptions(
        column_types={name: pa.string() for name in column_names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[],
    )
    try:
        table = pv.read_csv(path, read_options, parse_options, convert_options)
    except pa.ArrowInvalid as error:
        raise InvalidInputError(f"{path.name} cannot be read as CSV: {error}") from None
    return table, ragged


def _row_numbers_skipping(skipped: list[int]) -> RowNumbers:
    """Row numbers of table rows, given the row numbers of rows left out of the table."""

    def row_number(index: int) -> int:
        row = index + FIRST_DATA_ROW
        # Each skipped row at or before the candidate pushes the row one further down.
        position = 0
        while position < len(skipped) and skipped[position] <= row:
            row += 1
            position += 1
        return row

    if not skipped:
        return lambda index: index + FIRST_DATA_ROW
    return row_number
