"""Filters: the service's filter expression language, evaluated as item masks.

A filter is parsed once, when it is created, and evaluated per request into a boolean mask
over the catalogue. The module reads no store: the caller passes the data in a
:class:`FilterContext`::

    expression = parse_filter('EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)')
    expression.validate({"ITEMS": items_columns, "USERS": users_columns})
    context = FilterContext(item_ids, items=columns_from_table(items_table, item_ids))
    mask = expression.item_mask(context, {"GENRES": '"Horror","War"'})

Semantics, where the service leaves a choice:

* ``|`` joins expressions: the union of the INCLUDE expressions (all items when there is
  none) minus the union of the EXCLUDE expressions. An expression whose trailing
  ``IF CurrentUser...`` is false is not applied; an EXCLUDE expression whose placeholders
  have no values is not applied; an INCLUDE expression needs all its values.
* ``AND`` binds tighter than ``OR``; parentheses group. One expression's conditions name one
  dataset (Items or Interactions), as the service requires; mix them with ``|``.
* ``IN``/``=`` match exactly (event types case-insensitively); a multi-valued field
  (``"a|b"``) matches if any of its values does. ``NOT IN``/``!=`` are their complements, so
  an item with no value matches ``NOT IN``. ``<``, ``<=``, ``>``, ``>=`` need a numeric field
  and a number; a missing value never matches them.
* Boolean fields match ``"true"``/``"false"`` (any case, quoted or not; also 1 and 0);
  unlike the service, they can be filtered. Textual fields cannot, as in the service.
* ``Items.ITEM_ID`` is always a field: the catalogue's ids.
* Placeholder values are checked as the service checks ``filterValues`` (at most 25, values
  of at most 1000 characters); a key that names no placeholder of the filter is refused.
* ``Interactions.EVENT_TYPE IN (...)`` holds for the items of the user's interactions with a
  listed type (``"*"``: any type); ``NOT IN`` for those of interactions with another type.
  Unlike the service, the user's whole history counts, not the latest 100 per type.
* A user without a Users row, or without the field, fails ``IF`` conditions other than
  ``NOT IN``/``!=``.

Limitation: only ``ItemID`` filters are supported; user-segment (``UserID``) and action
(``ActionID``) filters are refused with an error that says so.
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
