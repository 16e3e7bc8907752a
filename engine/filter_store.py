"""Filters as named objects of a dataset group: create, describe, list and delete.

A filter is checked whole when it is created, as the service checks it: the expression is
parsed (a malformed one is refused with the position and what was expected there), every
field it names must exist in the group's datasets, textual fields cannot be filtered and
``<``/``>`` need numeric fields. A group holds at most 30 filters, which together name at most
20 distinct fields.

Layout::

    groups/<group>/filters/<name>.json    {"name", "expression", "status", "created", ...}

A created filter is ACTIVE at once; it is applied at serving time by name (see
:mod:`engine.serving_rules`).

Examples
--------
>>> create_filter(group, "no-horror", 'EXCLUDE ItemID WHERE Items.GENRES IN ("Horror")')
>>> [found.name for found in list_filters(group)]
['no-horror']
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from engine.filters import FilterExpression, parse_filter
from engine.schema import Field
from engine.store import DatasetGroup
from engine.store.files import read_json, write_json, writer_lock
from engine.store.store import check_name

__all__ = [
    "MAX_FILTERS",
    "MAX_GROUP_FIELDS",
    "Filter",
    "create_filter",
    "delete_filter",
    "field_kinds",
    "filter_path",
    "get_filter",
    "list_filters",
]

logger = logging.getLogger(__name__)

MAX_FILTERS = 30
MAX_GROUP_FIELDS = 20
FILTERS = "filters"
_NUMERIC = {"int", "long", "float", "double"}


@dataclass(frozen=True)
class Filter:
    """A named, parsed filter of a dataset group.

    Attributes
    ----------
    name : str
        Unique within the group.
    dataset_group : str
        The group's name.
    expression : FilterExpression
        The parsed expression; ``expression.text`` is the text as written and
        ``expression.target`` (also :attr:`target`) what it selects: ``ItemID`` or ``UserID``.
    status : str
        ``ACTIVE``: a filter is usable as soon as it is created.
    created : str
        ISO 8601 UTC time of creation.
    """

    name: str
    dataset_group: str
    expression: FilterExpression
    status: str
    created: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The ``$NAME`` placeholders a request can give values for, without the ``$``."""
        return self.expression.placeholders

    @property
    def target(self) -> str:
        """``ItemID``: filters items (requests, batch inference); ``UserID``: users (segments)."""
        return self.expression.target

    def check_target(self, target: str, use: str) -> None:
        """Refuse this filter for ``use`` unless it is a ``target`` filter.

        Raises
        ------
        InvalidInputError
            Naming the filter, its target and what ``use`` needs.

        Examples
        --------
        >>> get_filter(group, "gold-members").check_target("UserID", "a batch segment job")
        """
        if self.target != target:
            selects = "users" if self.target == "UserID" else "items"
            raise InvalidInputError(
                f"filter {self.name!r} is {_article(self.target)} {self.target} filter (it "
                f"selects {selects}); {use} needs {_article(target)} {target} filter"
            )

    def describe(self) -> dict[str, Any]:
        """Name, group, expression, target, status, creation time and placeholders."""
        return {
            "name": self.name,
            "dataset_group": self.dataset_group,
            "filter_expression": self.expression.text,
            "target": self.target,
            "status": self.status,
            "failure_reason": None,
            "created": self.created,
            "placeholders": list(self.placeholders),
        }


def _article(target: str) -> str:
    return "an" if target == "ItemID" else "a"


def _filters_root(group: DatasetGroup) -> Path:
    return Path(group.path) / FILTERS


def filter_path(group: DatasetGroup, name: str) -> Path:
    """Where the filter ``name`` of ``group`` is stored (whether or not it exists)."""
    return _filters_root(group) / f"{name}.json"


def field_kinds(group: DatasetGroup) -> dict[str, dict[str, str]]:
    """The kind of every field of the group's datasets, as filters see them.

    Returns
    -------
    dict
        Dataset type -> field name -> ``numeric``, ``boolean``, ``categorical`` or
        ``textual``; a dataset the group lacks is absent.
    """
    return {
        dataset.dataset_type: {field.name: _kind(field) for field in dataset.schema.fields}
        for dataset in group.datasets()
    }


def _kind(field: Field) -> str:
    if field.textual:
        return "textual"
    if field.type in _NUMERIC:
        return "numeric"
    return "boolean" if field.type == "boolean" else "categorical"


def create_filter(group: DatasetGroup, name: str, expression: str) -> Filter:
    """Create the filter ``name`` in ``group`` from a filter expression.

    Parameters
    ----------
    group : DatasetGroup
        The group whose datasets the filter reads.
    name : str
        1-63 letters, digits, ``-`` or ``_``, starting with a letter or digit.
    expression : str
        1-2500 characters of the service's filter language, see :mod:`engine.filters`.

    Returns
    -------
    Filter
        ACTIVE.

    Raises
    ------
    FilterSyntaxError
        The expression is malformed; the message gives the position and what was expected.
    InvalidInputError
        A bad name; a field the datasets lack, a textual field, ``<`` on a field that is not
        numeric; or more than 30 filters or 20 distinct fields in the group.
    AlreadyExistsError
        The group has a filter of that name.

    Examples
    --------
    >>> create_filter(group, "kids", 'INCLUDE ItemID WHERE Items.RATING IN ("G") '
    ...               "IF CurrentUser.AGE < 13").placeholders
    ()
    """
    check_name(name)
    parsed = parse_filter(expression)
    parsed.validate(field_kinds(group))
    with writer_lock(_filters_root(group)):
        existing = list_filters(group)
        _check_limits(group, name, parsed, existing)
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        record = {"name": name, "expression": expression, "status": "ACTIVE", "created": created}
        write_json(filter_path(group, name), record)
    logger.info("created filter %s in dataset group %s", name, group.name)
    return Filter(name, group.name, parsed, "ACTIVE", created)


def _check_limits(
    group: DatasetGroup, name: str, parsed: FilterExpression, existing: list[Filter]
) -> None:
    if any(found.name == name for found in existing):
        raise AlreadyExistsError(f"filter {name!r} already exists in dataset group {group.name!r}")
    if len(existing) >= MAX_FILTERS:
        raise InvalidInputError(
            f"dataset group {group.name!r} has {len(existing)} filters already; "
            f"at most {MAX_FILTERS} are allowed: delete one first"
        )
    fields = set().union(*(_field_labels(found.expression) for found in existing))
    added = _field_labels(parsed) - fields
    if len(fields) + len(added) > MAX_GROUP_FIELDS:
        raise InvalidInputError(
            f"filter {name!r} would bring the distinct fields used by the filters of dataset "
            f"group {group.name!r} to {len(fields) + len(added)}; at most {MAX_GROUP_FIELDS} "
            f"are allowed (it adds {', '.join(sorted(added))})"
        )


def _field_labels(expression: FilterExpression) -> set[str]:
    return {
        f"{dataset_type}.{field.upper()}"
        for dataset_type, names in expression.fields.items()
        for field in names
    }


def get_filter(group: DatasetGroup, name: str) -> Filter:
    """The filter called ``name`` in ``group``.

    Raises
    ------
    NotFoundError
        The group has no such filter.
    """
    path = filter_path(group, name)
    if not path.is_file():
        raise NotFoundError(f"filter {name!r} does not exist in dataset group {group.name!r}")
    return _read(group, path)


def _read(group: DatasetGroup, path: Path) -> Filter:
    record = read_json(path)
    expression = parse_filter(record["expression"])
    return Filter(record["name"], group.name, expression, record["status"], record["created"])


def list_filters(group: DatasetGroup) -> list[Filter]:
    """Every filter of ``group``, by name."""
    paths = sorted(_filters_root(group).glob("*.json"))
    return [_read(group, path) for path in paths]


def delete_filter(group: DatasetGroup, name: str) -> None:
    """Delete the filter ``name``; a request naming it afterwards gets :class:`NotFoundError`.

    Raises
    ------
    NotFoundError
        The group has no such filter.
    """
    with writer_lock(_filters_root(group)):
        path = filter_path(group, name)
        if not path.is_file():
            raise NotFoundError(f"filter {name!r} does not exist in dataset group {group.name!r}")
        path.unlink()
    logger.info("deleted filter %s from dataset group %s", name, group.name)
