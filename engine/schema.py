"""Avro schemas of the three dataset types, checked against the service's rules.

A schema is an Avro ``record`` whose fields are flat columns. :func:`parse_schema` reads one
from JSON text, a file or a parsed mapping, lets ``fastavro`` check that it is Avro at all, and
then applies every rule Amazon Personalize applies to a custom dataset: the record name, the
allowed types, the required fields and reserved keywords of the dataset type, the
``categorical`` and ``textual`` flags, the metadata limits and unique field names. It collects
every broken rule and raises one :class:`~engine.errors.SchemaError` that lists them all.

Examples
--------
>>> schema = parse_schema(
...     '{"type": "record", "name": "Users", "fields": ['
...     '{"name": "USER_ID", "type": "string"},'
...     '{"name": "AGE", "type": ["null", "int"]}]}',
...     "users",
... )
>>> schema.field("age")
Field(name='AGE', type='int', nullable=True, categorical=False, textual=False)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from engine.errors import InvalidInputError, NotFoundError, SchemaError

__all__ = [
    "DATASET_TYPES",
    "Field",
    "Schema",
    "normalize_dataset_type",
    "parse_schema",
]

logger = logging.getLogger(__name__)

DATASET_TYPES = ("INTERACTIONS", "USERS", "ITEMS")

MAX_SCHEMA_CHARACTERS = 20_000
FIELD_TYPES = ("string", "int", "long", "float", "double", "boolean")
NESTED_TYPES = ("record", "array", "map", "enum", "fixed")
MAX_METADATA_FIELDS = {"INTERACTIONS": 5, "USERS": 25, "ITEMS": 100}
RECORD_NAMES = {"INTERACTIONS": "Interactions", "USERS": "Users", "ITEMS": "Items"}

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NON_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class Field:
    """One column of a dataset.

    Attributes
    ----------
    name : str
        The name as written in the schema.
    type : str
        One of ``string``, ``int``, ``long``, ``float``, ``double``, ``boolean``.
    nullable : bool
        Whether the type is a union with ``null``.
    categorical, textual : bool
        The schema's ``categorical`` and ``textual`` flags.
    """

    name: str
    type: str
    nullable: bool
    categorical: bool = False
    textual: bool = False


@dataclass(frozen=True)
class _Keyword:
    """What the service demands of a required field or reserved keyword."""

    types: tuple[str, ...]
    required: bool = False
    nullable: bool = False
    categorical: bool = False


_REQUIRED_ID = _Keyword(("string",), required=True)
KEYWORDS: dict[str, dict[str, _Keyword]] = {
    "INTERACTIONS": {
        "USER_ID": _REQUIRED_ID,
        "ITEM_ID": _REQUIRED_ID,
        "TIMESTAMP": _Keyword(("long",), required=True),
        "EVENT_TYPE": _Keyword(("string",)),
        "EVENT_VALUE": _Keyword(("float", "double"), nullable=True),
        "IMPRESSION": _Keyword(("string",), nullable=True, categorical=True),
        "RECOMMENDATION_ID": _Keyword(("string",), nullable=True),
        "EVENT_ATTRIBUTION_SOURCE": _Keyword(("string",), nullable=True),
    },
    "USERS": {"USER_ID": _REQUIRED_ID},
    "ITEMS": {"ITEM_ID": _REQUIRED_ID, "CREATION_TIMESTAMP": _Keyword(("long",))},
}


@dataclass(frozen=True)
class Schema:
    """A checked schema of one dataset type.

    Attributes
    ----------
    dataset_type : str
        One of :data:`DATASET_TYPES`.
    fields : tuple of Field
        The columns in schema order, which is also the CSV header order.
    avro : dict
        The parsed JSON as given.
    """

    dataset_type: str
    fields: tuple[Field, ...]
    avro: dict[str, Any] = dataclasses.field(hash=False)

    def field(self, name: str) -> Field:
        """Return the field called ``name``, ignoring case.

        Raises
        ------
        KeyError
            If the schema has no such field.
        """
        wanted = name.upper()
        for column in self.fields:
            if column.name.upper() == wanted:
                return column
        known = ", ".join(column.name for column in self.fields)
        raise KeyError(f"the {self.dataset_type} schema has no field {name!r}; fields: {known}")

    def has_field(self, name: str) -> bool:
        """Return whether the schema has a field called ``name``, ignoring case."""
        wanted = name.upper()
        return any(column.name.upper() == wanted for column in self.fields)

    def to_json(self) -> str:
        """Return the Avro schema as JSON text."""
        return json.dumps(self.avro)

    @property
    def metadata_fields(self) -> tuple[Field, ...]:
        """The fields that are neither required fields nor reserved keywords."""
        return _metadata_fields(self.fields, self.dataset_type)


def normalize_dataset_type(value: str) -> str:
    """Return the canonical upper-case dataset type.

    Parameters
    ----------
    value : str
        A dataset type in any case, such as ``"interactions"`` or ``"Items"``.

    Returns
    -------
    str
        One of :data:`DATASET_TYPES`.

    Raises
    ------
    InvalidInputError
        If ``value`` names no supported dataset type.

    Examples
    --------
    >>> normalize_dataset_type("Interactions")
    'INTERACTIONS'
    """
    canonical = value.strip().upper() if isinstance(value, str) else ""
    if canonical not in DATASET_TYPES:
        allowed = ", ".join(DATASET_TYPES)
        raise InvalidInputError(
            f"dataset type {value!r} is not supported; use one of {allowed} (case is ignored)"
        )
    return canonical


def parse_schema(
    source: str | os.PathLike[str] | Mapping[str, Any],
    dataset_type: str,
    *,
    name: str | None = None,
) -> Schema:
    """Read a schema and check it against every rule of its dataset type.

    Parameters
    ----------
    source : str, path-like or mapping
        JSON text (a string starting with ``{``), the path of a JSON file, or the parsed dict.
    dataset_type : str
        ``INTERACTIONS``, ``USERS`` or ``ITEMS``, in any case.
    name : str, optional
        What error messages call the schema; by default the file name, else ``"schema"``.

    Returns
    -------
    Schema
        The checked schema.

    Raises
    ------
    SchemaError
        Listing every broken rule, each naming the field and the rule.
    InvalidInputError
        If ``dataset_type`` is not supported.
    NotFoundError
        If ``source`` is a path to no file.

    Examples
    --------
    >>> schema = parse_schema("schemas/interactions.json", "interactions")  # doctest: +SKIP
    >>> schema.has_field("EVENT_TYPE")  # doctest: +SKIP
    True
    """
    dataset_type = normalize_dataset_type(dataset_type)
    text, label = _read_source(source)
    label = name or label
    avro = _load_json(text, label)
    _check_avro(avro, label)

    fields, reasons = _read_fields(avro)
    reasons = _check_document(text, avro, dataset_type) + reasons
    reasons += _check_fields(fields, dataset_type)
    if reasons:
        raise SchemaError(reasons, label)

    logger.debug("parsed %s schema %s with %d fields", dataset_type, label, len(fields))
    return Schema(dataset_type, tuple(fields), avro)


# Reading


def _read_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[str, str]:
    """Return the JSON text of ``source`` and the label error messages use for it."""
    if isinstance(source, Mapping):
        try:
            return json.dumps(source), "schema"
        except (TypeError, ValueError) as error:
            raise SchemaError([f"the schema cannot be written as JSON: {error}"]) from error
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return source, "schema"
    path = Path(source)
    if not path.is_file():
        raise NotFoundError(f"schema file {path} does not exist")
    try:
        return path.read_text(encoding="utf-8"), path.name
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(
            f"schema file {path} cannot be read as UTF-8 text: {error}"
        ) from None


def _load_json(text: str, label: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object."""
    try:
        avro = json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemaError([f"the schema is not valid JSON: {error}"], label) from error
    if not isinstance(avro, dict):
        found = type(avro).__name__
        raise SchemaError([f"the schema must be a JSON object, not a {found}"], label)
    return avro


def _check_avro(avro: dict[str, Any], label: str) -> None:
    """Raise a SchemaError carrying fastavro's message if ``avro`` is not Avro."""
    try:
        fastavro.parse_schema(json.loads(json.dumps(avro)))
    except Exception as error:  # fastavro raises several unrelated exception types
        reason = f"the schema is not valid Avro: {type(error).__name__}: {error}"
        raise SchemaError([reason], label) from error


def _read_fields(avro: dict[str, Any]) -> tuple[list[Field], list[str]]:
    """Return the fields of the record and the reasons any of them is malformed."""
    raw_fields = avro.get("fields")
    if not isinstance(raw_fields, list):
        return [], ['the record needs a "fields" list']

    fields: list[Field] = []
    reasons: list[str] = []
    for raw in raw_fields:
        column, problems = _read_field(raw)
        fields.append(column)
        reasons += problems
    return fields, reasons


def _read_field(raw: dict[str, Any]) -> tuple[Field, list[str]]:
    """Return one field and the reasons its name, type or flags are malformed."""
    name = str(raw.get("name", ""))
    field_type, nullable, reasons = _resolve_type(name, raw.get("type"))
    if not _AVRO_NAME.fullmatch(name):
        reasons.append(
            f"field {name}: the name must start with a letter or underscore and contain "
            "only letters, digits and underscores"
        )

    flags = {}
    for flag in ("categorical", "textual"):
        flags[flag] = raw.get(flag, False)
        if not isinstance(flags[flag], bool):
            reasons.append(f"field {name}: {flag} must be true or false, not {flags[flag]!r}")
    column = Field(
        name, field_type, nullable, flags["categorical"] is True, flags["textual"] is True
    )
    return column, reasons


def _resolve_type(name: str, raw_type: Any) -> tuple[str, bool, list[str]]:
    """Return the base type of a field, whether it is nullable, and what is wrong with it."""
    if isinstance(raw_type, dict) and set(raw_type) == {"type"}:
        raw_type = raw_type["type"]
    if isinstance(raw_type, list):
        return _resolve_union(name, raw_type)

    described = json.dumps(raw_type)
    if raw_type in FIELD_TYPES:
        return str(raw_type), False, []
    if raw_type == "null":
        reason = (
            f'field {name}: type "null" alone holds no data; use a union like ["null", "string"]'
        )
    elif isinstance(raw_type, dict) and raw_type.get("type") in NESTED_TYPES:
        reason = (
            f"field {name}: nested type {raw_type['type']} is not allowed; records must be flat"
        )
    else:
        reason = (
            f"field {name}: type {described} is not allowed; use one of {', '.join(FIELD_TYPES)}"
        )
    return described, False, [reason]


def _resolve_union(name: str, members: list[Any]) -> tuple[str, bool, list[str]]:
    """Resolve a union, which must be one allowed type with ``null`` in either order."""
    others = [member for member in members if member != "null"]
    if len(members) == 2 and len(others) == 1 and others[0] in FIELD_TYPES:
        return str(others[0]), True, []

    described = json.dumps(members)
    reason = (
        f"field {name}: union {described} is not allowed; a union must pair one of "
        f'{", ".join(FIELD_TYPES)} with "null", such as ["null", "string"]'
    )
    return described, True, [reason]


# Checking


def _check_document(text: str, avro: dict[str, Any], dataset_type: str) -> list[str]:
    """Check the size, the top-level type and the record name."""
    reasons = []
    if len(text) > MAX_SCHEMA_CHARACTERS:
        reasons.append(
            f"the schema JSON is {len(text):,} characters long; "
            f"the limit is {MAX_SCHEMA_CHARACTERS:,}"
        )
    if avro.get("type") != "record":
        reasons.append(f'the top-level type must be "record", not {json.dumps(avro.get("type"))}')

    expected = RECORD_NAMES[dataset_type]
    record_name = str(avro.get("name", "")).rsplit(".", 1)[-1]
    if record_name.lower() != expected.lower():
        reasons.append(
            f'the record name must be "{expected}" (case is ignored) for dataset type '
            f"{dataset_type}, not {json.dumps(avro.get('name'))}"
        )
    return reasons


def _check_fields(fields: list[Field], dataset_type: str) -> list[str]:
    """Apply the rules of ``dataset_type`` to the fields."""
    reasons = _check_keywords(fields, dataset_type)
    reasons += _check_unique_names(fields)
    reasons += _check_flags(fields, dataset_type)
    reasons += _check_metadata_count(fields, dataset_type)
    return reasons


def _check_keywords(fields: list[Field], dataset_type: str) -> list[str]:
    """Check required fields are present and keywords have the types the service demands."""
    by_name = {column.name.upper(): column for column in fields}
    reasons = []
    for keyword, rule in KEYWORDS[dataset_type].items():
        column = by_name.get(keyword)
        if column is not None:
            reasons += _check_keyword(column, keyword, rule)
        elif rule.required:
            reasons.append(
                f"field {keyword}: required field {keyword} ({rule.types[0]}) is missing "
                f"from the {dataset_type} schema; add it"
            )
    return reasons


def _check_keyword(column: Field, keyword: str, rule: _Keyword) -> list[str]:
    """Check one required field or reserved keyword against its rule."""
    kind = "required field" if rule.required else "reserved keyword"
    prefix = f"field {column.name}: {kind} {keyword}"
    reasons = []
    if column.type not in rule.types:
        allowed = " or ".join(rule.types)
        reasons.append(f"{prefix} must have type {allowed}, not {column.type}")
    if column.nullable and not rule.nullable:
        reasons.append(f'{prefix} must not be nullable; remove "null" from its type')
    if column.categorical and not rule.categorical:
        reasons.append(f"{prefix} must not be categorical")
    if column.textual:
        reasons.append(f"{prefix} must not be textual")
    return reasons


def _check_unique_names(fields: list[Field]) -> list[str]:
    """Check names stay unique once non-alphanumerics are removed and case is ignored."""
    seen: dict[str, str] = {}
    reasons = []
    for column in fields:
        key = _NON_ALPHANUMERIC.sub("", column.name).upper()
        if key in seen:
            reasons.append(
                f"field {column.name}: the name collides with {seen[key]} once non-alphanumeric "
                "characters are removed and case is ignored; rename one of them"
            )
        else:
            seen[key] = column.name
    return reasons


def _check_flags(fields: list[Field], dataset_type: str) -> list[str]:
    """Check the categorical and textual flags of the metadata fields."""
    reasons = []
    for column in _metadata_fields(fields, dataset_type):
        reasons += _check_field_flags(column, dataset_type)

    textual = [column.name for column in fields if column.textual]
    if len(textual) > 1:
        reasons.append(
            f"fields {', '.join(textual)}: at most one field may be textual; "
            "keep the flag on one of them"
        )
    return reasons


def _check_field_flags(column: Field, dataset_type: str) -> list[str]:
    """Check the flags of one metadata field."""
    prefix = f"field {column.name}:"
    reasons = []
    for flag, is_set in (("categorical", column.categorical), ("textual", column.textual)):
        if is_set and column.type != "string":
            reasons.append(f"{prefix} only string fields may be {flag}, not {column.type}")
    if column.textual and dataset_type != "ITEMS":
        reasons.append(f"{prefix} textual fields are allowed only in an ITEMS schema")
    if column.categorical and column.textual:
        reasons.append(f"{prefix} a field cannot be both categorical and textual; choose one")
    return reasons


def _check_metadata_count(fields: list[Field], dataset_type: str) -> list[str]:
    """Check the number of metadata fields is within the dataset type's limits."""
    metadata = [column.name for column in _metadata_fields(fields, dataset_type)]
    limit = MAX_METADATA_FIELDS[dataset_type]
    if len(metadata) > limit:
        return [
            f"fields {', '.join(metadata)}: dataset type {dataset_type} allows at most {limit} "
            f"metadata fields besides required and reserved ones, found {len(metadata)}; "
            f"remove {len(metadata) - limit}"
        ]
    if not metadata and dataset_type != "INTERACTIONS":
        present = ", ".join(column.name for column in fields) or "(none)"
        return [
            f"fields {present}: dataset type {dataset_type} needs at least one metadata field "
            "besides required and reserved ones; add a categorical string or numeric field"
        ]
    return []


def _metadata_fields(
    fields: tuple[Field, ...] | list[Field], dataset_type: str
) -> tuple[Field, ...]:
    """Return the fields that are not required fields or reserved keywords."""
    keywords = KEYWORDS[dataset_type]
    return tuple(column for column in fields if column.name.upper() not in keywords)
