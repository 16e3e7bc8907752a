"""Parsed filters and their evaluation as item masks (ItemID) or user masks (UserID)."""

from __future__ import annotations

import logging
import operator
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.filters._context import Column, FilterContext, SegmentContext
from engine.filters._syntax import (
    ORDERING,
    Condition,
    CurrentItemField,
    FilterTerm,
    Junction,
    Node,
    Placeholder,
    Target,
    Value,
    iter_conditions,
    parse_terms,
    parse_values,
)

__all__ = ["FilterExpression", "parse_filter"]

_LISTED_FIELDS = 12  # columns named in the message about a missing field

logger = logging.getLogger(__name__)

MAX_VALUE_LENGTH = 1000
MAX_VALUES = 25
_VALUE_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
_NEGATED = ("NOT IN", "!=")
_COMPARE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_BOOLEAN_ALIASES = {"1": "true", "0": "false", "1.0": "true", "0.0": "false"}
_DATASET_TYPES = {
    "Items": "ITEMS",
    "Interactions": "INTERACTIONS",
    "Users": "USERS",
    "CurrentUser": "USERS",
}
_ROWS = {"ItemID": "items", "UserID": "users"}
_ID_FIELDS = {"ItemID": ("ITEMS", "ITEM_ID"), "UserID": ("USERS", "USER_ID")}


@dataclass(frozen=True)
class FilterExpression:
    """A parsed filter: ``INCLUDE``/``EXCLUDE`` terms joined by ``|``.

    The terms combine as the service combines them: the union of the applied INCLUDE terms
    (all rows when none applies) minus the union of the applied EXCLUDE terms. A term whose
    ``IF CurrentUser...`` clause is false is not applied, nor is an EXCLUDE term whose
    placeholders have no values. The rows are catalogue items for an ``ItemID`` filter
    (:meth:`item_mask`) and users for a ``UserID`` filter (:meth:`user_mask`), as
    :attr:`target` says.

    Create one with :func:`parse_filter`.
    """

    text: str
    terms: tuple[FilterTerm, ...]

    def __str__(self) -> str:
        return self.text

    @property
    def target(self) -> Target:
        """What the filter selects: ``ItemID`` (items) or ``UserID`` (users, for segments)."""
        return self.terms[0].target

    @cached_property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholder names without ``$``, in order of first appearance."""
        names = [operand.name for operand in self._operands() if isinstance(operand, Placeholder)]
        return tuple(dict.fromkeys(names))

    @cached_property
    def depends_on_user(self) -> bool:
        """True when an item mask depends on the requesting user (Interactions or ``IF``)."""
        return self.target == "ItemID" and any(
            term.condition is not None
            or any(c.dataset == "Interactions" for c in iter_conditions(term.where))
            for term in self.terms
        )

    @cached_property
    def depends_on_current_item(self) -> bool:
        """True when the mask depends on the request's item (``CurrentItem.FIELD``)."""
        return any(isinstance(operand, CurrentItemField) for operand in self._operands())

    @cached_property
    def fields(self) -> dict[str, set[str]]:
        """Field names (as written) per dataset type: ``ITEMS``, ``INTERACTIONS``, ``USERS``."""
        fields: dict[str, set[str]] = {}
        for condition in self._conditions():
            fields.setdefault(_DATASET_TYPES[condition.dataset], set()).add(condition.field)
        for operand in self._operands():
            if isinstance(operand, CurrentItemField):
                fields.setdefault("ITEMS", set()).add(operand.field)
        return fields

    def _conditions(self) -> list[Condition]:
        return [
            condition
            for term in self.terms
            for condition in iter_conditions(term.where) + iter_conditions(term.condition)
        ]

    def _operands(self) -> list[Value | Placeholder | CurrentItemField]:
        return [operand for condition in self._conditions() for operand in condition.operands]

    def cache_key(self, values: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """The part of ``values`` the mask depends on, hashable: the filter text and its values.

        Two requests with equal keys get equal masks as long as the Items data is the same and
        neither :attr:`depends_on_user` nor :attr:`depends_on_current_item` is set.

        Examples
        --------
        >>> parse_filter("EXCLUDE ItemID WHERE Items.GENRES IN ($G)").cache_key({"G": '"x"'})
        ('EXCLUDE ItemID WHERE Items.GENRES IN ($G)', '"x"')
        """
        given = values or {}
        return (self.text, *(given.get(name, "\0missing") for name in self.placeholders))

    def validate(self, columns: Mapping[str, Collection[str] | Mapping[str, str]]) -> None:
        """Check the fields the filter names against the datasets, as the service does at creation.

        Every field must exist (``Items.ITEM_ID`` always does, and so does ``Users.USER_ID``
        in a ``UserID`` filter). When the kinds of the fields are given, a textual field cannot
        be filtered, and ``<``, ``<=``, ``>``, ``>=`` need a numeric field on both sides.

        Parameters
        ----------
        columns : Mapping[str, Collection[str] or Mapping[str, str]]
            Per dataset type (``ITEMS``, ``USERS``, ``INTERACTIONS``; any case), the column
            names, or a mapping of each name to its kind: ``numeric``, ``boolean``,
            ``categorical`` or ``textual``. A dataset type that is absent means the group has
            no such dataset.

        Raises
        ------
        InvalidInputError
            Naming every missing field, e.g. ``Items.COLOUR``; or, when the fields exist, every
            field of the wrong kind with its position.

        Examples
        --------
        >>> parse_filter("INCLUDE ItemID WHERE Items.GENRES IN (\\"x\\")").validate(
        ...     {"ITEMS": {"ITEM_ID", "GENRES"}}
        ... )
        """
        available = {key.upper(): _kinds_by_name(names) for key, names in columns.items()}
        missing = [
            _describe_missing(dataset_type, absent, available, self.target)
            for dataset_type, names in sorted(self.fields.items())
            if (
                absent := [
                    name
                    for name in sorted(names)
                    if not _is_available(dataset_type, name, available, self.target)
                ]
            )
        ]
        if missing:
            raise InvalidInputError(
                f"filter expression uses fields that do not exist: {', '.join(missing)}"
            )
        wrong = [problem for c in self._conditions() for problem in _kind_problems(c, available)]
        if wrong:
            raise InvalidInputError("filter expression: " + "; ".join(wrong))

    def check_values(self, values: Mapping[str, str] | None) -> None:
        """Check placeholder values as the service checks ``filterValues``.

        At most 25 entries, each keyed by a placeholder of this filter (1-50 letters, digits
        or ``_``, without the ``$``) and holding a string of at most 1000 characters.

        Raises
        ------
        InvalidInputError
            Naming the first entry that breaks a rule. Unlike the service, a key that is not a
            placeholder of the filter is refused, so that a misspelt key is not silently
            ignored.

        Examples
        --------
        >>> parse_filter("EXCLUDE ItemID WHERE Items.GENRES IN ($G)").check_values({"G": '"x"'})
        """
        if values is None:
            return
        if not isinstance(values, Mapping):
            raise InvalidInputError(
                f"filter values must be a mapping of placeholder to value, got {values!r}"
            )
        if len(values) > MAX_VALUES:
            raise InvalidInputError(
                f"{len(values)} filter values were given; at most {MAX_VALUES} are allowed"
            )
        for name, value in values.items():
            self._check_value(name, value)

    def _check_value(self, name: object, value: object) -> None:
        if not isinstance(name, str) or not _VALUE_NAME.fullmatch(name):
            raise InvalidInputError(
                f"filter value name {name!r} is not valid: use the placeholder's name without $ "
                "(1-50 letters, digits or _)"
            )
        if name not in self.placeholders:
            used = ", ".join(f"${known}" for known in self.placeholders) or "no placeholders"
            raise InvalidInputError(
                f"filter value for ${name} matches no placeholder of the filter (it uses {used})"
            )
        if not isinstance(value, str):
            raise InvalidInputError(
                f"filter value for ${name} must be a string such as '\"a\",\"b\"' or '10', "
                f"got {value!r}"
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidInputError(
                f"filter value for ${name} has {len(value)} characters; "
                f"at most {MAX_VALUE_LENGTH} are allowed"
            )

    def item_mask(
        self, context: FilterContext, values: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """Which catalogue items an ``ItemID`` filter lets through.

        Parameters
        ----------
        context : FilterContext
            The catalogue and, as needed, the requesting user and the current item.
        values : Mapping[str, str], optional
            Placeholder values as the service passes them, e.g. ``{"GENRES": '"a","b"'}``.

        Returns
        -------
        numpy.ndarray
            Boolean, one per item of ``context.item_ids``; True means the item may be returned.

        Raises
        ------
        InvalidInputError
            A ``UserID`` filter; an INCLUDE term's placeholder has no value, a value is
            malformed, a field does not exist, ``CurrentItem`` is used without a current item,
            or ``<``/``>`` meets a field or value that is not numeric.

        Examples
        --------
        >>> context = FilterContext(np.array(["a", "b"]), {"PRICE": [5.0, 20.0]})
        >>> parse_filter("INCLUDE ItemID WHERE Items.PRICE < $MAX").item_mask(
        ...     context, {"MAX": "10"}
        ... )
        array([ True, False])
        """
        return self._mask("ItemID", context, values)

    def user_mask(
        self, context: SegmentContext, values: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """Which users a ``UserID`` (user-segment) filter lets through.

        Parameters
        ----------
        context : SegmentContext
            The users, their Users columns and the event types of their interactions.
        values : Mapping[str, str], optional
            Placeholder values, as for :meth:`item_mask`.

        Returns
        -------
        numpy.ndarray
            Boolean, one per user of ``context.user_ids``; True means the user may be in a
            segment.

        Raises
        ------
        InvalidInputError
            An ``ItemID`` filter, or as for :meth:`item_mask`.

        Examples
        --------
        >>> context = SegmentContext(np.array(["u1", "u2"]), {"AGE": [30, 15]})
        >>> parse_filter("EXCLUDE UserID WHERE Users.AGE < $AGE").user_mask(
        ...     context, {"AGE": "18"}
        ... )
        array([ True, False])
        """
        return self._mask("UserID", context, values)

    def _mask(
        self,
        target: Target,
        context: FilterContext | SegmentContext,
        values: Mapping[str, str] | None,
    ) -> np.ndarray:
        """The union of the applied INCLUDE terms' masks minus that of the EXCLUDE terms'."""
        if self.target != target:
            wanted = {"ItemID": "item_mask", "UserID": "user_mask"}[self.target]
            raise InvalidInputError(
                f"filter expression {self.text!r} is a {self.target} filter; it selects "
                f"{_ROWS[self.target]}, not {_ROWS[target]} (use {wanted})"
            )
        self.check_values(values)
        started = time.perf_counter()
        evaluation = _Evaluation(context, values or {})
        includes: list[np.ndarray] = []
        excludes: list[np.ndarray] = []
        for term in self.terms:
            mask = evaluation.term_mask(term)
            if mask is not None:
                (includes if term.action == "INCLUDE" else excludes).append(mask)

        result = np.logical_or.reduce(includes) if includes else np.ones(context.num_rows, bool)
        if excludes:
            result = result & ~np.logical_or.reduce(excludes)
        logger.debug(
            "filter kept %d of %d %s in %.2f ms",
            int(result.sum()),
            context.num_rows,
            _ROWS[target],
            1000 * (time.perf_counter() - started),
        )
        return np.asarray(result, dtype=bool)


def _kinds_by_name(names: Collection[str] | Mapping[str, str]) -> dict[str, str | None]:
    """Upper-cased column name -> kind, or None where only the names were given."""
    if isinstance(names, Mapping):
        return {str(name).upper(): str(kind) for name, kind in names.items()}
    return {str(name).upper(): None for name in names}


def _kind_problems(condition: Condition, available: dict[str, dict[str, str | None]]) -> list[str]:
    """Why ``condition`` cannot be evaluated on fields of these kinds, with its position."""
    if condition.dataset == "Interactions":
        return []
    dataset_type = _DATASET_TYPES[condition.dataset]
    sides = [(condition.label, available.get(dataset_type, {}).get(condition.field.upper()))]
    sides += [
        (f"CurrentItem.{operand.field}", available.get("ITEMS", {}).get(operand.field.upper()))
        for operand in condition.operands
        if isinstance(operand, CurrentItemField)
    ]
    where = f"at position {condition.position}"
    problems = [
        f"{where}: {label} is a textual field; filters on textual fields are not supported"
        for label, kind in sides
        if kind == "textual"
    ]
    if condition.operator in ORDERING:
        problems += [
            f"{where}: {label} is a {kind} field; {condition.operator} needs a numeric field"
            for label, kind in sides
            if kind not in (None, "numeric", "textual")
        ]
    return problems


def _is_available(
    dataset_type: str, name: str, available: dict[str, dict[str, Any]], target: Target
) -> bool:
    """Whether the field exists; the id of the rows filtered always does."""
    if (dataset_type, name.upper()) == _ID_FIELDS[target]:
        return True
    return name.upper() in available.get(dataset_type, {})


def _describe_missing(
    dataset_type: str, names: list[str], available: dict[str, dict[str, Any]], target: Target
) -> str:
    """``Items.COLOUR, Items.SIZE (Items has GENRES, ITEM_ID)``: one dataset's missing fields."""
    users = "Users" if target == "UserID" else "CurrentUser"
    prefix = {"ITEMS": "Items", "INTERACTIONS": "Interactions", "USERS": users}
    labels = ", ".join(f"{prefix[dataset_type]}.{name}" for name in names)
    if dataset_type not in available:
        return f"{labels} (no {dataset_type.title()} dataset)"
    columns = sorted(available[dataset_type])
    shown = ", ".join(columns[:_LISTED_FIELDS]) + (", ..." if len(columns) > _LISTED_FIELDS else "")
    return f"{labels} ({dataset_type.title()} has {shown})"


def parse_filter(expression: str) -> FilterExpression:
    """Parse a filter expression in the service's language.

    ``AND`` binds tighter than ``OR`` inside one expression, and parentheses group.
    Keywords and dataset names are matched case-insensitively, field names are matched to
    the datasets' columns case-insensitively, and placeholders (``$NAME``) case-sensitively.

    Parameters
    ----------
    expression : str
        1 to 2500 characters.

    Returns
    -------
    FilterExpression

    Raises
    ------
    FilterSyntaxError
        A malformed expression; the message gives the 1-based position and what was expected.
    InvalidInputError
        An empty or too long expression, or more than 10 distinct fields.

    Examples
    --------
    >>> parse_filter('EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)').placeholders
    ('GENRES',)
    """
    terms = parse_terms(expression)
    logger.debug("parsed a filter of %d expression(s)", len(terms))
    return FilterExpression(expression, terms)


class _Evaluation:
    """One evaluation of a filter: the context, and the placeholder values parsed once."""

    def __init__(self, context: FilterContext | SegmentContext, values: Mapping[str, str]) -> None:
        self.context = context
        self.raw_values = values
        self.parsed: dict[str, tuple[Value, ...]] = {}

    def term_mask(self, term: FilterTerm) -> np.ndarray | None:
        """The term's mask of rows, or None when the term is not applied."""
        missing = [name for name in _term_placeholders(term) if not self.placeholder(name)]
        if missing and term.action == "EXCLUDE":
            logger.debug("EXCLUDE term skipped: no value for $%s", missing[0])
            return None
        if missing:
            raise InvalidInputError(
                f"filter value for ${missing[0]} is missing; an INCLUDE expression needs a "
                "value for each of its placeholders"
            )
        if term.condition is not None and not bool(self.mask(term.condition)[0]):
            return None
        return self.mask(term.where)

    def placeholder(self, name: str) -> tuple[Value, ...]:
        """The values of ``$name``; empty when the request gave none."""
        if name not in self.parsed:
            text = self.raw_values.get(name)
            self.parsed[name] = () if text is None else parse_values(text, name)
        return self.parsed[name]

    def mask(self, node: Node) -> np.ndarray:
        """The rows ``node`` holds for: items or users, or the one row of the user for ``IF``."""
        if isinstance(node, Junction):
            masks = [self.mask(child) for child in node.children]
            combine = np.logical_and if node.operator == "AND" else np.logical_or
            return np.asarray(combine.reduce(masks), dtype=bool)
        if node.dataset == "Interactions":
            return self.event_mask(node)
        if node.dataset == "CurrentUser":
            column = self.request().user_column(node.field, node.label)
        else:
            column = self.context.rows.column(node.field, node.label)
        return _match(column, node, self.resolve(node))

    def request(self) -> FilterContext:
        """The item filter's context, for ``CurrentUser`` and ``CurrentItem`` (ItemID only)."""
        if not isinstance(self.context, FilterContext):
            raise InvalidInputError(
                "CurrentUser and CurrentItem need a request's context; a UserID filter has none"
            )
        return self.context

    def event_mask(self, condition: Condition) -> np.ndarray:
        """Rows with an interaction whose event type the condition matches.

        For an item filter, the items of the requesting user's interactions; for a
        user-segment filter, the users who have such an interaction.
        """
        mask = np.zeros(self.context.num_rows, dtype=bool)
        events = self.context.row_events()
        if events is None:
            return mask
        rows, codes, names = events
        values = self.resolve(condition)

        if any(value.any_event for value in values):
            matched = np.ones(len(names), dtype=bool)
        else:
            wanted = {value.text.lower() for value in values}
            matched = np.array([str(name).lower() in wanted for name in names], dtype=bool)
        if condition.operator in _NEGATED:
            matched = ~matched

        hit = matched[codes] if len(names) else np.zeros(len(codes), dtype=bool)
        inside = (rows >= 0) & (rows < mask.size)
        mask[rows[hit & inside]] = True
        return mask

    def resolve(self, condition: Condition) -> list[Value]:
        """The condition's operands as literal values: placeholders and CurrentItem expanded."""
        resolved: list[Value] = []
        for operand in condition.operands:
            if isinstance(operand, Value):
                resolved.append(operand)
            elif isinstance(operand, Placeholder):
                resolved.extend(self.placeholder(operand.name))
            else:
                resolved.extend(self.current_item_values(operand))
        return resolved

    def current_item_values(self, operand: CurrentItemField) -> list[Value]:
        """The current item's values of ``CurrentItem.FIELD``; empty when it has none."""
        label = f"CurrentItem.{operand.field}"
        request = self.request()
        if request.current_item is None:
            raise InvalidInputError(
                f"the filter uses {label}, which needs the request's item "
                "(related-items requests only)"
            )
        column = request.item_column(operand.field, label)
        return [
            _value_of(value, operand.position) for value in column.row_values(request.current_item)
        ]


def _term_placeholders(term: FilterTerm) -> list[str]:
    conditions = iter_conditions(term.where) + iter_conditions(term.condition)
    return [
        operand.name
        for condition in conditions
        for operand in condition.operands
        if isinstance(operand, Placeholder)
    ]


def _value_of(value: str | float, position: int) -> Value:
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
        return Value(text, value, position)
    try:
        return Value(value, float(value), position)
    except ValueError:
        return Value(value, None, position)


def _match(column: Column, condition: Condition, values: list[Value]) -> np.ndarray:
    """Rows of ``column`` that satisfy ``condition`` against ``values``."""
    if condition.operator in ORDERING:
        return _ordered(column, condition, values)
    hit = _equal(column, values)
    return ~hit if condition.operator in _NEGATED else hit


def _equal(column: Column, values: list[Value]) -> np.ndarray:
    """Rows holding any of ``values``; a multi-valued row matches if any of its values does."""
    if column.kind == "numeric":
        numbers = [value.number for value in values if value.number is not None]
        return np.isin(column.numbers, numbers)

    mask = np.zeros(column.size, dtype=bool)
    for value in values:
        key = value.text
        if column.kind == "boolean":
            key = _BOOLEAN_ALIASES.get(key, key.lower())
        rows = column.index.get(key)
        if rows is not None:
            mask[rows] = True
    return mask


def _ordered(column: Column, condition: Condition, values: list[Value]) -> np.ndarray:
    """``<``, ``<=``, ``>``, ``>=`` on a numeric column; missing values never match."""
    where = f"filter expression: at position {condition.position}"
    if column.kind == "categorical" and not column.index:
        return np.zeros(column.size, dtype=bool)  # no values at all: nothing to compare
    if column.kind != "numeric":
        raise InvalidInputError(
            f"{where}: {condition.label} holds {column.kind} values; "
            f"{condition.operator} needs a numeric field"
        )
    if not values:
        return np.zeros(column.size, dtype=bool)
    if len(values) > 1:
        raise InvalidInputError(
            f"{where}: {condition.label} {condition.operator} needs one value, got {len(values)}"
        )
    number = values[0].number
    if number is None:
        raise InvalidInputError(
            f"{where}: {condition.label} {condition.operator} needs a number, "
            f"got {values[0].text!r}"
        )
    return np.asarray(_COMPARE[condition.operator](column.numbers, number), dtype=bool)
