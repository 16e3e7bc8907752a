"""Writers for the service's bulk-import files: a CSV with a header and its Avro schema.

The CSV follows the service's form: one header row naming the schema's fields in order,
``\\n`` line endings, empty cells for missing values and multi-value categorical fields joined
with ``|``. Quoting is left to :mod:`csv`, so a title with a comma or a quote survives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["AGE_GROUPS", "age_group", "schema_field", "write_csv", "write_schema"]

SCHEMA_NAMESPACE = "com.amazonaws.personalize.schema"

#: Age groups as (lowest age, label), in ascending order.
AGE_GROUPS: tuple[tuple[int, str], ...] = (
    (0, "0-17"),
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
)


def age_group(age: int) -> str:
    """Return the label of the age group an age falls in.

    Parameters
    ----------
    age : int
        Age in years.

    Returns
    -------
    str
        A label such as ``"25-34"`` or ``"65+"``.

    Examples
    --------
    >>> age_group(24)
    '18-24'
    """
    label = AGE_GROUPS[0][1]
    for lowest, name in AGE_GROUPS:
        if age >= lowest:
            label = name
    return label


def schema_field(
    name: str,
    avro_type: str,
    *,
    nullable: bool = False,
    categorical: bool = False,
    textual: bool = False,
) -> dict[str, Any]:
    """Build one Avro field, with the service's ``categorical``/``textual`` marks.

    Parameters
    ----------
    name : str
        Field name, as in the CSV header.
    avro_type : str
        Avro primitive type (``"string"``, ``"int"``, ``"long"``, ``"float"``...).
    nullable : bool
        Whether the value may be missing; the type becomes ``["null", avro_type]``.
    categorical, textual : bool
        The service's marks for string fields.

    Returns
    -------
    dict
        The field, ready for :func:`write_schema`.
    """
    field: dict[str, Any] = {"name": name, "type": ["null", avro_type] if nullable else avro_type}
    if categorical:
        field["categorical"] = True
    if textual:
        field["textual"] = True
    return field


def write_schema(path: Path, record_name: str, fields: Sequence[dict[str, Any]]) -> Path:
    """Write an Avro record schema as indented JSON.

    Parameters
    ----------
    path : Path
        Destination file.
    record_name : str
        ``"Interactions"``, ``"Items"`` or ``"Users"``.
    fields : sequence of dict
        Fields built with :func:`schema_field`, in CSV column order.

    Returns
    -------
    Path
        ``path``.
    """
    schema = {
        "type": "record",
        "name": record_name,
        "namespace": SCHEMA_NAMESPACE,
        "fields": list(fields),
        "version": "1.0",
    }
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write rows under a header, UTF-8, ``\\n`` line endings, minimal quoting.

    ``None`` is written as an empty cell (a missing value).

    Parameters
    ----------
    path : Path
        Destination file.
    header : sequence of str
        Column names, in the schema's field order.
    rows : iterable of sequence
        Row values; each is converted with ``str``.

    Returns
    -------
    int
        Number of data rows written.
    """
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
