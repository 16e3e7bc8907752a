"""Column-wise validation of imported rows against a schema.

An import arrives as a table of strings, one column per schema field, exactly as the cells
were written (an empty cell is the empty string). Each column is checked and converted with
vectorised :mod:`pyarrow.compute` kernels; only the rows that fail a check are looked at one by
one, to describe them in a :class:`~engine.errors.Problem`.

The rules are the service's:

- an empty cell is a null, allowed only in a nullable field; ``EVENT_TYPE``, when present,
  needs a value in every row;
- ``USER_ID``, ``ITEM_ID`` and ``ACTION_ID`` are at most 256 characters;
- ``int`` and ``long`` are plain decimal integers (``-12``; no ``+``, no spaces, no ``1.0``)
  within the type's range; ``float`` and ``double`` are decimal numbers, optionally with an
  exponent (``1.5e3``), finite and within the type's range;
- ``boolean`` is lowercase ``true`` or ``false``;
- strings are at most 1000 characters (a multi-value categorical counts as a whole, ``|``
  included); a textual field is truncated to 20000 characters rather than rejected;
- ``TIMESTAMP`` and ``CREATION_TIMESTAMP`` are epoch seconds, at least 0 and below 1e11: a
  larger value is almost surely in milliseconds (or micro-, nanoseconds) and is rejected with a
  message that says what to divide by.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import MAX_REPORTED_PROBLEMS, Problem, ValidationError
from engine.schema import Field, Schema

__all__ = [
    "ID_FIELDS",
    "MAX_ID_LENGTH",
    "MAX_STRING_LENGTH",
    "MAX_TEXTUAL_LENGTH",
    "TIMESTAMP_FIELDS",
    "RowNumbers",
    "validate_table",
]

logger = logging.getLogger(__name__)

ID_FIELDS = frozenset({"USER_ID", "ITEM_ID", "ACTION_ID"})
TIMESTAMP_FIELDS = frozenset({"TIMESTAMP", "CREATION_TIMESTAMP"})
MAX_ID_LENGTH = 256
MAX_STRING_LENGTH = 1000
MAX_TEXTUAL_LENGTH = 20000

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}

_INTEGER_PATTERN = r"^-?[0-9]+$"
_DECIMAL_PATTERN = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_INT64_MAX_DIGITS = "9223372036854775807"
_INTEGER_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT32_MAX = 3.4028234663852886e38

# Epoch-seconds bound and the units a larger value most likely is in, largest first.
_TIMESTAMP_UNITS = ((1e17, "nanoseconds", "1000000000"), (1e14, "microseconds", "1000000"))
_SECONDS_LIMIT = 1e11

RowNumbers = Callable[[int], int]
"""Maps a 0-based index in the imported table to the row number reported to the user."""

Column: TypeAlias = pa.ChunkedArray | pa.Array


@functools.lru_cache(maxsize=64, typed=True)
def _literal(value: bool | int | float | str) -> pa.Scalar:
    """``value`` as a typed Arrow scalar, for the right-hand side of a compute kernel.

    Given a bare Python value, pyarrow infers its type through a lookup that tries to import
    ``dateutil`` on every call; that costs about 50 µs a kernel, which made validating one
    ``put_events`` call take milliseconds. Scalars are immutable, so they are cached.
    """
    if isinstance(value, bool):
        return pa.scalar(value, pa.bool_())
    if isinstance(value, int):
        return pa.scalar(value, pa.int64())
    if isinstance(value, float):
        return pa.scalar(value, pa.float64())
    return pa.scalar(value, pa.string())


_FALSE = _literal(False)


@dataclass(frozen=True)
class Check:
    """One failed rule on one column: which rows broke it and what was expected."""

    column: str
    failing: Column
    expected: str


def validate_table(
    strings: pa.Table,
    schema: Schema,
    *,
    file: str,
    row_numbers: RowNumbers,
    extra: Sequence[Problem] = (),
) -> pa.Table:
    """Check every cell of ``strings`` and return the table typed as ``schema`` says.

    Parameters
    ----------
    strings
        One string column per schema field, named as the schema names them; empty string for
        an empty cell.
    schema
        The dataset's schema.
    file
        The file name shown in problems.
    row_numbers
        Maps a 0-based table index to the row number shown in problems.
    extra
        Problems found before validation (rows the reader could not split into cells); they
        are reported with the others.

    Returns
    -------
    pyarrow.Table
        Columns in schema order, typed ``string``, ``int32``, ``int64``, ``float32``,
        ``float64`` or ``bool``, with nulls where cells were empty.

    Raises
    ------
    ValidationError
        Some cells break a rule; it lists the first problems in row order and counts all.
    """
    columns: list[Column] = []
    checks: list[Check] = []
    for field in schema.fields:
        typed, field_checks = convert_column(field, strings.column(field.name))
        columns.append(typed)
        checks.extend(field_checks)

    raise_for_checks(checks, strings, file=file, row_numbers=row_numbers, extra=extra)
    arrow_schema = pa.schema(
        [pa.field(f.name, ARROW_TYPES[f.type], nullable=f.nullable) for f in schema.fields]
    )
    return pa.Table.from_arrays(columns, schema=arrow_schema)


def convert_column(field: Field, values: Column) -> tuple[Column, list[Check]]:
    """Convert one string column to the field's type, collecting the rules it breaks."""
    empty = pc.equal(values, _literal(""))
    checks: list[Check] = []
    if not field.nullable:
        checks.append(Check(field.name, empty, "a value: the field is not nullable"))
    elif field.name.upper() == "EVENT_TYPE":
        checks.append(Check(field.name, empty, "an event type: every row needs one"))

    present = pc.invert(empty)
    converter = _CONVERTERS[field.type]
    typed, type_checks = converter(field, values, present)
    return typed, checks + type_checks


def _convert_string(field: Field, values: Column, present: Column) -> tuple[Column, list[Check]]:
    """Check string lengths; truncate textual values; empty cells become nulls."""
    lengths = pc.utf8_length(values)
    checks: list[Check] = []
    if field.name.upper() in ID_FIELDS:
        too_long = pc.greater(lengths, _literal(MAX_ID_LENGTH))
        checks.append(Check(field.name, too_long, f"an id of at most {MAX_ID_LENGTH} characters"))
    elif field.textual:
        values = _truncate_textual(field, values, lengths)
    else:
        too_long = pc.greater(lengths, _literal(MAX_STRING_LENGTH))
        what = "including the '|' separators" if field.categorical else "per value"
        expected = f"at most {MAX_STRING_LENGTH} characters {what}"
        checks.append(Check(field.name, too_long, expected))

    typed = pc.if_else(present, values, pa.scalar(None, pa.string()))
    return typed, checks


def _truncate_textual(field: Field, values: Column, lengths: Column) -> Column:
    """Cut textual values to the service's limit, as the service does, and log how many."""
    truncated = pc.sum(pc.greater(lengths, _literal(MAX_TEXTUAL_LENGTH))).as_py() or 0
    if not truncated:
        return values
    logger.warning(
        "truncated %d value(s) of textual field %s to %d characters",
        truncated,
        field.name,
        MAX_TEXTUAL_LENGTH,
    )
    return pc.utf8_slice_codeunits(values, 0, MAX_TEXTUAL_LENGTH)


def _convert_integer(field: Field, values: Column, present: Column) -> tuple[Column, list[Check]]:
    """Parse decimal integers; check the type's range and, for timestamps, the unit."""
    well_formed = _integer_text(values, present)
    malformed = pc.and_(present, pc.invert(well_formed))
    overflow = pc.and_(well_formed, _exceeds_int64(values))
    parsable = pc.and_(well_formed, pc.invert(overflow))
    numbers = pc.cast(pc.if_else(parsable, values, pa.scalar(None, pa.string())), pa.int64())

    low, high = _INTEGER_RANGES[field.type]
    outside = pc.or_(pc.less(numbers, _literal(low)), pc.greater(numbers, _literal(high)))
    out_of_range = pc.or_(overflow, pc.fill_null(outside, _FALSE))
    example = "epoch seconds, such as 1767225600" if _is_timestamp(field) else "such as 42"
    checks = [
        Check(field.name, malformed, f"an integer ({field.type}), {example}"),
        Check(field.name, out_of_range, f"an integer between {low} and {high} ({field.type})"),
    ]
    if _is_timestamp(field):
        checks.extend(_timestamp_checks(field.name, numbers))

    numbers = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), numbers)
    return pc.cast(numbers, ARROW_TYPES[field.type]), checks


def _is_timestamp(field: Field) -> bool:
    return field.name.upper() in TIMESTAMP_FIELDS


def _integer_text(values: Column, present: Column) -> Column:
    """True where a value is written as a decimal integer (``_INTEGER_PATTERN``).

    Digits alone, the common case (timestamps), are checked by a character class, several
    times faster than the pattern; the pattern runs only when some value is not digits alone.
    """
    digits = pc.ascii_is_decimal(values)
    if pc.all(pc.or_(digits, pc.invert(present))).as_py():
        return digits
    return pc.match_substring_regex(values, _INTEGER_PATTERN)


def _exceeds_int64(values: Column) -> Column:
    """True where a well-formed integer is beyond the int64 range (leading zeros aside)."""
    long_text = pc.greater_equal(pc.binary_length(values), _literal(len(_INT64_MAX_DIGITS)))
    if not pc.any(long_text).as_py():
        return long_text
    digits = pc.utf8_ltrim(values, characters="-0")
    lengths = pc.utf8_length(digits)
    limit = _literal(len(_INT64_MAX_DIGITS))
    at_limit = pc.and_(pc.equal(lengths, limit), pc.greater(digits, _literal(_INT64_MAX_DIGITS)))
    return pc.or_(pc.greater(lengths, limit), at_limit)


def _timestamp_checks(name: str, seconds: Column) -> list[Check]:
    """Epoch seconds: not negative, and not a value in a finer unit."""
    negative = pc.fill_null(pc.less(seconds, _literal(0)), _FALSE)
    checks = [Check(name, negative, "epoch seconds, at least 0")]
    upper: float | None = None
    for lower, unit, divisor in _TIMESTAMP_UNITS:
        checks.append(_unit_check(name, seconds, lower, upper, unit, divisor))
        upper = lower
    checks.append(_unit_check(name, seconds, _SECONDS_LIMIT, upper, "milliseconds", "1000"))
    return checks


def _unit_check(
    name: str, seconds: Column, lower: float, upper: float | None, unit: str, divisor: str
) -> Check:
    """Flag values in ``[lower, upper)``: they look like ``unit`` rather than seconds."""
    failing = pc.greater_equal(seconds, _literal(int(lower)))
    if upper is not None:
        failing = pc.and_(failing, pc.less(seconds, _literal(int(upper))))
    expected = f"epoch seconds; this looks like {unit}: divide by {divisor}"
    return Check(name, pc.fill_null(failing, _FALSE), expected)


def _convert_float(field: Field, values: Column, present: Column) -> tuple[Column, list[Check]]:
    """Parse decimal numbers; reject values beyond the type's finite range."""
    well_formed = pc.match_substring_regex(values, _DECIMAL_PATTERN)
    malformed = pc.and_(present, pc.invert(well_formed))
    numbers = pc.cast(pc.if_else(well_formed, values, pa.scalar(None, pa.string())), pa.float64())

    limit = _FLOAT32_MAX if field.type == "float" else float("inf")
    outside = pc.or_(pc.invert(pc.is_finite(numbers)), pc.greater(pc.abs(numbers), _literal(limit)))
    out_of_range = pc.fill_null(outside, _FALSE)
    checks = [
        Check(field.name, malformed, f"a number ({field.type}), such as 3.5 or -1e-3"),
        Check(field.name, out_of_range, f"a finite number within the range of a {field.type}"),
    ]
    numbers = pc.if_else(out_of_range, pa.scalar(None, pa.float64()), numbers)
    return pc.cast(numbers, ARROW_TYPES[field.type], safe=False), checks


def _convert_boolean(field: Field, values: Column, present: Column) -> tuple[Column, list[Check]]:
    """Accept lowercase ``true`` and ``false`` only, as the service does."""
    known = pc.is_in(values, value_set=pa.array(["true", "false"]))
    malformed = pc.and_(present, pc.invert(known))
    check = Check(field.name, malformed, "true or false, in lowercase")
    typed = pc.if_else(present, pc.equal(values, _literal("true")), pa.scalar(None, pa.bool_()))
    return typed, [check]


_CONVERTERS: dict[str, Callable[[Field, Column, Column], tuple[Column, list[Check]]]] = {
    "string": _convert_string,
    "int": _convert_integer,
    "long": _convert_integer,
    "float": _convert_float,
    "double": _convert_float,
    "boolean": _convert_boolean,
}


def raise_for_checks(
    checks: Sequence[Check],
    strings: pa.Table,
    *,
    file: str,
    row_numbers: RowNumbers,
    extra: Sequence[Problem] = (),
) -> None:
    """Raise a :class:`ValidationError` if any check failed or ``extra`` problems exist.

    Only the first failing rows of each check are materialised; the count covers them all.
    """
    total = len(extra)
    problems = list(extra)
    for check in checks:
        failures = pc.sum(check.failing).as_py() or 0
        if failures:
            total += failures
            problems.extend(_describe(check, strings, file, row_numbers))
    if total:
        problems.sort(key=lambda problem: problem.row)
        raise ValidationError(problems[:MAX_REPORTED_PROBLEMS], count=total, source=file)


def _describe(check: Check, strings: pa.Table, file: str, row_numbers: RowNumbers) -> list[Problem]:
    """Build problems for the first failing rows of one check."""
    indices = pc.indices_nonzero(check.failing)[:MAX_REPORTED_PROBLEMS].to_pylist()
    column = strings.column(check.column)
    return [
        Problem(file, row_numbers(index), check.column, column[index].as_py(), check.expected)
        for index in indices
    ]
