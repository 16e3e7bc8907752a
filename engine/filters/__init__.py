"""Filters: the service's filter expression language, evaluated as item or user masks.

A filter is parsed once, when it is created, and evaluated per request into a boolean mask.
An ``ItemID`` filter selects catalogue items (for requests and batch inference); a ``UserID``
filter selects users (for batch segment jobs); ``FilterExpression.target`` says which. The
module reads no store: the caller passes the data in a :class:`FilterContext` (items) or a
:class:`SegmentContext` (users)::

    expression = parse_filter('EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)')
    expression.validate({"ITEMS": items_columns, "USERS": users_columns})
    context = FilterContext(item_ids, items=columns_from_table(items_table, item_ids))
    mask = expression.item_mask(context, {"GENRES": '"Horror","War"'})

    segment = parse_filter("EXCLUDE UserID WHERE Users.AGE < $AGE")
    users = SegmentContext(user_ids, columns_from_table(users_table, user_ids, "USER_ID"))
    allowed = segment.user_mask(users, {"AGE": "18"})

Semantics, where the service leaves a choice:

* ``|`` joins expressions: the union of the INCLUDE expressions (all items, or all users,
  when there is none) minus the union of the EXCLUDE expressions. An expression whose
  trailing ``IF CurrentUser...`` is false is not applied; an EXCLUDE expression whose
  placeholders have no values is not applied; an INCLUDE expression needs all its values.
* ``AND`` binds tighter than ``OR``; parentheses group. One expression's conditions name one
  dataset (Items or Interactions; Users or Interactions), as the service requires; mix them
  with ``|``. All the expressions of a filter have the same target.
* ``IN``/``=`` match exactly (event types case-insensitively); a multi-valued field
  (``"a|b"``) matches if any of its values does. ``NOT IN``/``!=`` are their complements, so
  a row with no value matches ``NOT IN``. ``<``, ``<=``, ``>``, ``>=`` need a numeric field
  and a number; a missing value never matches them.
* Boolean fields match ``"true"``/``"false"`` (any case, quoted or not; also 1 and 0);
  unlike the service, they can be filtered. Textual fields cannot, as in the service.
* ``Items.ITEM_ID`` is always a field: the catalogue's ids; so is ``Users.USER_ID`` in a
  ``UserID`` filter: the users' ids.
* Placeholder values are checked as the service checks ``filterValues`` (at most 25, values
  of at most 1000 characters); a key that names no placeholder of the filter is refused.
* In an ``ItemID`` filter, ``Interactions.EVENT_TYPE IN (...)`` holds for the items of the
  requesting user's interactions with a listed type (``"*"``: any type); ``NOT IN`` for those
  of interactions with another type. In a ``UserID`` filter it holds for the users who have
  an interaction of a listed type, and ``NOT IN`` for those who have one of another type (a
  user without interactions matches neither). Unlike the service, the whole history counts
  (training data and logged events), not the latest 100 per type.
* A user without a Users row, or without the field, fails ``IF`` conditions other than
  ``NOT IN``/``!=``; in a ``UserID`` filter, such a user is a row with missing values.
* A ``UserID`` filter names ``Users.FIELD`` and ``Interactions.EVENT_TYPE`` only: ``Items``
  fields, ``CurrentItem`` values and an ``IF CurrentUser`` clause are refused when it is
  parsed, with the position.

Limitation: action (``ActionID``) filters are refused with an error that says so, as the
engine has no Actions datasets.
"""

from engine.filters._context import (
    EventTypes,
    FilterContext,
    SegmentContext,
    columns_from_table,
    row_from_table,
)
from engine.filters._expression import FilterExpression, parse_filter
from engine.filters._syntax import MAX_EXPRESSION_LENGTH, FilterSyntaxError, parse_values

__all__ = [
    "EventTypes",
    "FilterContext",
    "FilterExpression",
    "FilterSyntaxError",
    "MAX_EXPRESSION_LENGTH",
    "SegmentContext",
    "columns_from_table",
    "parse_filter",
    "parse_values",
    "row_from_table",
]
