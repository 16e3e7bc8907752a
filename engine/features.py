"""Metadata features for training: which columns of Users and Items a solution uses.

The service's ``trainingDataConfig`` chooses columns per dataset type, with
``included_columns`` (only these) or ``excluded_columns`` (all but these). A column is
usable when it is categorical, textual or numeric; a plain string that is neither
categorical nor textual is ignored, as the service ignores it. Booleans count as
categorical (``"true"`` / ``"false"``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from engine.errors import InvalidInputError, NotFoundError
from engine.schema import Field, Schema
from engine.store import DatasetGroup
from recipes import FeatureColumn, Features

__all__ = ["FEATURE_DATASETS", "check_column_choice", "load_features"]

logger = logging.getLogger(__name__)

FEATURE_DATASETS = {"USERS": "USER_ID", "ITEMS": "ITEM_ID"}
_NUMERIC = {"int", "long", "float", "double"}


def _kind(field: Field) -> str | None:
    if field.textual:
        return "textual"
    if field.categorical or field.type == "boolean":
        return "categorical"
    if field.type in _NUMERIC:
        return "numeric"
    return None


def usable_fields(schema: Schema) -> list[Field]:
    """Metadata fields a recipe can learn from, in schema order."""
    return [field for field in schema.metadata_fields if _kind(field) is not None]


def _chosen(
    schema: Schema, included: Sequence[str] | None, excluded: Sequence[str] | None
) -> list[Field]:
    fields = usable_fields(schema)
    if included is not None:
        wanted = {name.upper() for name in included}
        fields = [field for field in fields if field.name.upper() in wanted]
    if excluded is not None:
        unwanted = {name.upper() for name in excluded}
        fields = [field for field in fields if field.name.upper() not in unwanted]
    return fields


def check_column_choice(
    group: DatasetGroup,
    included: Mapping[str, Sequence[str]] | None,
    excluded: Mapping[str, Sequence[str]] | None,
) -> None:
    """Refuse a column choice that names a dataset type or a column that does not exist.

    Raises
    ------
    InvalidInputError
        An unknown dataset type, or a column the dataset's schema does not have.
    """
    for choice in (included or {}, excluded or {}):
        for dataset_type, columns in choice.items():
            kind = dataset_type.upper()
            if kind not in (*FEATURE_DATASETS, "INTERACTIONS"):
                raise InvalidInputError(
                    f"column choice names dataset type {dataset_type!r}; use USERS or ITEMS"
                )
            schema = _schema_or_none(group, kind)
            for column in columns:
                if schema is None or not schema.has_field(column):
                    raise InvalidInputError(
                        f"column choice names {kind}.{column}, which the {kind} dataset "
                        "does not have"
                    )


def _schema_or_none(group: DatasetGroup, dataset_type: str) -> Schema | None:
    try:
        return group.dataset(dataset_type).schema
    except NotFoundError:
        return None


def load_features(
    group: DatasetGroup,
    dataset_type: str,
    ids: np.ndarray,
    included: Sequence[str] | None = None,
    excluded: Sequence[str] | None = None,
) -> Features:
    """The chosen metadata columns of ``dataset_type``, aligned to ``ids``.

    Rows of ``ids`` absent from the dataset get missing values. Empty when the group has
    no such dataset.
    """
    schema = _schema_or_none(group, dataset_type)
    if schema is None:
        return Features()
    fields = _chosen(schema, included, excluded)
    if not fields:
        return Features()
    id_column = FEATURE_DATASETS[dataset_type]
    table = group.dataset(dataset_type).read_table([id_column, *(f.name for f in fields)])
    positions = _align(table.column(0), ids)
    columns = tuple(_column(field, table.column(field.name), positions) for field in fields)
    logger.info("using %s columns %s", dataset_type, ", ".join(f.name for f in fields))
    return Features(columns)


def _align(id_column: pa.ChunkedArray, ids: np.ndarray) -> np.ndarray:
    """For each of ``ids``, its row in the table, or -1."""
    row_of = {identifier: row for row, identifier in enumerate(id_column.to_pylist())}
    return np.array([row_of.get(str(identifier), -1) for identifier in ids], dtype=np.int64)


def _column(field: Field, values: pa.ChunkedArray, positions: np.ndarray) -> FeatureColumn:
    kind = _kind(field)
    assert kind is not None
    present = positions >= 0
    if kind == "numeric":
        numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)
        aligned = np.full(positions.size, np.nan)
        aligned[present] = numbers[positions[present]]
        return FeatureColumn(field.name, kind, aligned)
    items = [
        None if value is None else str(value).lower() if field.type == "boolean" else value
        for value in values.to_pylist()
    ]
    aligned_objects = np.full(positions.size, None, dtype=object)
    aligned_objects[present] = np.array(items, dtype=object)[positions[present]]
    return FeatureColumn(field.name, kind, aligned_objects)
