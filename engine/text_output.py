"""How the command line shows a result to a person when ``--json`` is not given.

Results are the same dictionaries ``--json`` prints. Here they become indented ``key: value``
lines; a recommendation list becomes a numbered table with scores and reasons, so that the
default output reads at a glance and ``--json`` stays the machine-readable form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render"]

INDENT = "  "
ITEM_LISTS = frozenset({"itemList", "personalizedRanking"})


def render(result: Any) -> str:
    """Return ``result`` (a JSON-like value) as lines of text for a terminal.

    Examples
    --------
    >>> print(render({"solution": "als", "metrics": {"precision_at_10": 0.09787}}))
    solution: als
    metrics:
      precision_at_10: 0.0979
    """
    return "\n".join(_lines(result, 0))


def _lines(value: Any, depth: int) -> list[str]:
    if isinstance(value, Mapping):
        return [line for key, item in value.items() for line in _entry(str(key), item, depth)]
    if _is_list(value):
        return [line for item in value for line in _list_item(item, depth)]
    return [INDENT * depth + _scalar(value)]


def _entry(key: str, value: Any, depth: int) -> list[str]:
    prefix = INDENT * depth + f"{key}:"
    if key in ITEM_LISTS and _is_list(value):
        return [prefix, *_item_table(value, depth + 1)]
    if isinstance(value, Mapping) or (_is_list(value) and not _all_scalars(value)):
        if not value:
            return [prefix + " (none)"]
        return [prefix, *_lines(value, depth + 1)]
    if _is_list(value):
        return [prefix + " " + (", ".join(map(_scalar, value)) or "(none)")]
    return [prefix + " " + _scalar(value)]


def _list_item(item: Any, depth: int) -> list[str]:
    lines = _lines(item, depth + 1)
    first = lines[0][len(INDENT) * (depth + 1) :]
    return [INDENT * depth + "- " + first, *lines[1:]]


def _item_table(items: Sequence[Any], depth: int) -> list[str]:
    """Numbered rows ``rank. item  score  [reason]`` for the service's ``itemList``."""
    if not items:
        return [INDENT * depth + "(no items)"]
    width = max(len(str(item.get("itemId", ""))) for item in items)
    rows = []
    for rank, item in enumerate(items, start=1):
        score = item.get("score")
        shown = "" if score is None else f"  {score:.4f}"
        reasons = item.get("reason") or item.get("promotionName")
        why = f"  [{', '.join(reasons) if _is_list(reasons) else reasons}]" if reasons else ""
        rows.append(f"{INDENT * depth}{rank:>3}. {str(item.get('itemId')):<{width}}{shown}{why}")
    return rows


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _all_scalars(values: Sequence[Any]) -> bool:
    return not any(isinstance(value, Mapping) or _is_list(value) for value in values)
