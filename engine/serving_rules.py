"""Business rules at serving time: filters, fill-up with popular items, and promotions.

A campaign method scores the catalogue and hands the scores here; the rules turn them into
the final list. Any method can use them with one call::

    items = self._rules.finish(scores, num_results, excluded=seen, user_id=user_id,
                               current_item=index, filter=filter, filter_values=values,
                               promotion=promotion)

``scores`` has one entry per catalogue item; a non-finite score means the model has no
opinion of the item. ``excluded`` items (those the user took, the request's own item) are
never returned. Then, as the service does it:

* the request's filter applies to the items that are not promoted; the best-scored items that
  pass it come first, ties going to the lower item index;
* when the filter leaves fewer scored items than were asked for, the list is filled with the
  most popular unscored items that pass it, each with the reason ``"Popular item"`` and no
  score (as the service's placeholder items carry none);
* a promotion takes ``ceil(percent * num_results / 100)`` slots for the best-scored items that
  pass the promotion's own filter (filled with popular items likewise), marked with the
  promotion's name and the reason ``"Promoted item"``. They are ordered among themselves and
  spread through the list: one in each of as many equal stretches of it, at a position drawn
  from a generator seeded by the request, so a request always gets the same answer. If
  fewer items match, the promotion takes as many as there are.

A campaign's personalized ranking applies only the filter, with
``self._rules.allowed_items(filter, filter_values, user_id=user_id)``.

Batch jobs rank many users at once with :meth:`ServingRules.rank_block`, which selects each
row's top N with a few whole-block numpy operations (see :func:`top_n_rows`) and gives the
same answer as :meth:`ServingRules.finish` without a promotion.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.filter_store import Filter
from engine.serving_data import ServingData
from engine.store.store import check_name

__all__ = [
    "POPULAR_REASON",
    "PROMOTED_REASON",
    "Promotion",
    "RankedBlock",
    "RecommendedItem",
    "ScoredUsers",
    "ServingRules",
    "top_n_row",
    "top_n_rows",
]

logger = logging.getLogger(__name__)

POPULAR_REASON = "Popular item"
PROMOTED_REASON = "Promoted item"
_GROUPS = 256


@dataclass(frozen=True)
class RecommendedItem:
    """One recommended item, its score, why it is there and the promotion that placed it.

    ``score`` is None for the popular items that fill a list a filter left short, and for
    an item a ranking lists without scoring it.
    """

    item_id: str
    score: float | None
    reason: tuple[str, ...] = ()
    promotion_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The service's ``PredictedItem``: ``itemId``, ``score``, ``promotionName``, ``reason``."""
        shown: dict[str, Any] = {"itemId": self.item_id}
        if self.score is not None:
            shown["score"] = self.score
        if self.promotion_name is not None:
            shown["promotionName"] = self.promotion_name
        if self.reason:
            shown["reason"] = list(self.reason)
        return shown


@dataclass(frozen=True)
class Promotion:
    """A share of the slots for items that pass the promotion's own filter.

    Parameters
    ----------
    name : str
        1-63 letters, digits, ``-`` or ``_``; promoted items carry it.
    percent_promoted_items : int
        1 to 100: the share of ``num_results`` promoted, rounded up.
    filter : Filter or str
        The filter (or its name) the promoted items pass.
    filter_values : Mapping[str, str], optional
        Values of that filter's placeholders, as for a request's filter.

    Raises
    ------
    InvalidInputError
        A bad name or a percentage outside 1-100.

    Examples
    --------
    >>> Promotion("in-house", 20, "in-house-only").slots(25)
    5
    """

    name: str
    percent_promoted_items: int
    filter: Filter | str
    filter_values: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        percent = self.percent_promoted_items
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
            raise InvalidInputError(
                f"promotion {self.name!r}: percent_promoted_items must be an integer from 1 to "
                f"100, got {percent!r}"
            )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Promotion:
        """Read a promotion in the service's shape (``name``, ``percentPromotedItems``,
        ``filterName`` or ``filter``, ``filterValues``) or with this class's field names.

        Raises
        ------
        InvalidInputError
            A missing or unknown key.
        """
        aliases = {
            "percentPromotedItems": "percent_promoted_items",
            "filterName": "filter",
            "filterValues": "filter_values",
        }
        given = {aliases.get(key, key): item for key, item in value.items()}
        known = {"name", "percent_promoted_items", "filter", "filter_values"}
        unknown = sorted(set(given) - known)
        missing = sorted({"name", "percent_promoted_items", "filter"} - set(given))
        if unknown or missing:
            problem = f"unknown key {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
            raise InvalidInputError(
                f"a promotion has name, percentPromotedItems, filterName and optionally "
                f"filterValues; this one has {problem}"
            )
        return cls(**given)

    def slots(self, num_results: int) -> int:
        """How many of ``num_results`` slots the promotion takes (rounded up)."""
        return min(num_results, math.ceil(self.percent_promoted_items * num_results / 100))


@dataclass(frozen=True)
class ScoredUsers:
    """Scores of a block of users, before the rules apply.

    Attributes
    ----------
    scores : numpy.ndarray
        ``(rows, items)`` float32; non-finite where the model has no score.
    excluded_indptr, excluded_indices : numpy.ndarray
        The items each user must never get (the items they took), row by row as in a CSR
        matrix: row ``r``'s are ``excluded_indices[excluded_indptr[r]:excluded_indptr[r + 1]]``.
    popular : numpy.ndarray
        Bool per row: the user is unknown and ``scores`` holds item popularity.
    """

    scores: np.ndarray
    excluded_indptr: np.ndarray
    excluded_indices: np.ndarray
    popular: np.ndarray

    def excluded_items(self, row: int) -> np.ndarray:
        """The excluded item indices of one row."""
        return self.excluded_indices[self.excluded_indptr[row] : self.excluded_indptr[row + 1]]

    def excluded_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, item) pair excluded, as two arrays."""
        rows = np.repeat(np.arange(self.scores.shape[0]), np.diff(self.excluded_indptr))
        return rows, self.excluded_indices


@dataclass(frozen=True)
class RankedBlock:
    """Top-N item indices of a block of rows, -1 past the end of a short row.

    ``scores`` is NaN where ``filled`` marks a popular item added because a filter left the
    row short; ``popular`` marks rows ranked by popularity (unknown users).
    """

    indices: np.ndarray
    scores: np.ndarray
    filled: np.ndarray
    popular: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


class ServingRules:
    """Filters, fill-up and promotions for one campaign's catalogue.

    Parameters
    ----------
    data : ServingData
        The group data the filters read.
    item_popularity : numpy.ndarray
        Per catalogue item, the number of users who took it: the fill-up order.
    """

    def __init__(self, data: ServingData, item_popularity: np.ndarray) -> None:
        self.data = data
        self.item_ids = data.item_ids
        self._item_names: list[str] = [str(item) for item in data.item_ids.tolist()]
        self.popularity = np.asarray(item_popularity, dtype=np.float64)

    def allowed_items(
        self,
        filter: Filter | str | None,
        filter_values: Mapping[str, str] | None = None,
        *,
        user_id: str | None = None,
        current_item: int | None = None,
        refresh: bool = True,
    ) -> np.ndarray | None:
        """The catalogue items the filter lets through (a read-only mask); None without one.

        ``refresh=False``: do not look for changed data first (see
        :meth:`ServingData.item_mask`).

        Raises
        ------
        NotFoundError
            No filter of that name.
        InvalidInputError
            Values without a filter, bad values, a filter that cannot be evaluated, or a
            user-segment (``UserID``) filter.
        """
        if filter is None:
            if filter_values:
                raise InvalidInputError("filter_values were given without a filter")
            return None
        found = self.data.resolve(filter)
        found.check_target("ItemID", "recommending items")
        return self.data.item_mask(found.expression, filter_values, user_id, current_item, refresh)

    def finish(
        self,
        scores: np.ndarray,
        num_results: int,
        *,
        excluded: np.ndarray | None = None,
        popular: bool = False,
        user_id: str | None = None,
        current_item: int | None = None,
        filter: Filter | str | None = None,
        filter_values: Mapping[str, str] | None = None,
        promotion: Promotion | None = None,
    ) -> list[RecommendedItem]:
        """The final list for one request, see the module docstring.

        Parameters
        ----------
        scores : numpy.ndarray
            One score per catalogue item; non-finite where the model has none.
        num_results : int
            How many items to return at most.
        excluded : numpy.ndarray, optional
            Item indices never to return.
        popular : bool
            ``scores`` are item popularity (an unknown user): every item says so.
        user_id, current_item
            The request's user and item index, for filters that name them.
        filter, filter_values
            The request's filter (a :class:`Filter` or a name) and its placeholder values.
        promotion : Promotion, optional
            At most one promotion.

        Returns
        -------
        list of RecommendedItem
        """
        row = np.asarray(scores)
        request: dict[str, Any] = {"user_id": user_id, "current_item": current_item}
        if promotion is None:
            mask = self.allowed_items(filter, filter_values, **request)
            return self._without_promotion(row, num_results, excluded, mask, popular)
        allowed = np.ones(row.size, bool)
        if excluded is not None:
            allowed[np.asarray(excluded, dtype=np.int64)] = False

        promoted = self._promoted(row, allowed, num_results, promotion, request)
        allowed[promoted.indices] = False
        mask = self.allowed_items(filter, filter_values, **request)
        count = num_results - promoted.indices.size
        items = self._items(row, self._pick(row, allowed & _or_all(mask, row.size), count), popular)
        if promotion is None:
            return items

        marked = self._items(row, promoted, popular, promotion.name)
        return _spread(items, marked, f"{user_id}|{current_item}|{promotion.name}")

    def _without_promotion(
        self,
        row: np.ndarray,
        num_results: int,
        excluded: np.ndarray | None,
        mask: np.ndarray | None,
        popular: bool,
    ) -> list[RecommendedItem]:
        """:meth:`finish` without a promotion: one masked copy of the scores, and the
        fill-up only when the allowed scored items run short."""
        candidates = np.array(row, copy=True) if mask is None else np.where(mask, row, -np.inf)
        if excluded is not None:
            candidates[np.asarray(excluded, dtype=np.int64)] = -np.inf
        ranked = _best(candidates, num_results)
        if ranked.size == num_results:
            return self._items(row, _Picked(ranked, 0), popular)

        allowed = _or_all(mask, row.size).copy()
        if excluded is not None:
            allowed[np.asarray(excluded, dtype=np.int64)] = False
        return self._items(row, self._pick(row, allowed, num_results), popular)

    def _promoted(
        self,
        scores: np.ndarray,
        allowed: np.ndarray,
        num_results: int,
        promotion: Promotion | None,
        request: dict[str, Any],
    ) -> _Picked:
        """The promotion's items: the best of those that pass its own filter."""
        if promotion is None:
            return _Picked.empty()
        mask = self.allowed_items(promotion.filter, promotion.filter_values, **request)
        return self._pick(
            scores, allowed & _or_all(mask, scores.size), promotion.slots(num_results)
        )

    def _pick(self, scores: np.ndarray, allowed: np.ndarray, count: int) -> _Picked:
        """The best ``count`` allowed scored items, then popular allowed unscored ones."""
        if count <= 0:
            return _Picked.empty()
        ranked = _best(np.where(allowed, scores, -np.inf), count)
        if ranked.size == count:
            return _Picked(ranked, 0)
        unscored = allowed & ~np.isfinite(scores)
        fill = _best(np.where(unscored, self.popularity, -np.inf), count - ranked.size)
        return _Picked(np.concatenate((ranked, fill)), fill.size)

    def _items(
        self, scores: np.ndarray, picked: _Picked, popular: bool, promotion: str | None = None
    ) -> list[RecommendedItem]:
        reason = (PROMOTED_REASON,) if promotion else ((POPULAR_REASON,) if popular else ())
        names = self._item_names
        scored = picked.indices[: picked.indices.size - picked.filled].tolist()
        items = [
            RecommendedItem(names[i], score, reason, promotion)
            for i, score in zip(scored, scores[scored].tolist(), strict=True)
        ]
        fill_reason = (PROMOTED_REASON,) if promotion else (POPULAR_REASON,)
        items += [
            RecommendedItem(names[i], None, fill_reason, promotion)
            for i in picked.indices[len(scored) :].tolist()
        ]
        return items

    def rank_block(
        self,
        scored: ScoredUsers,
        num_results: int,
        masks: Sequence[np.ndarray | None] | None = None,
    ) -> RankedBlock:
        """Top ``num_results`` of every row, the rows' filters applied, short rows filled.

        Parameters
        ----------
        scored : ScoredUsers
            The block; its ``scores`` are overwritten.
        num_results : int
        masks : sequence of numpy.ndarray or None, optional
            Per row, the filter's mask (see :meth:`allowed_items`) or None.

        Returns
        -------
        RankedBlock
            The same items, in the same order, as :meth:`finish` gives row by row.
        """
        scores = scored.scores
        scores[scored.excluded_pairs()] = -np.inf
        row_masks: list[np.ndarray | None] = [None] * scores.shape[0]
        if masks is not None:
            row_masks = list(masks)
        _apply_masks(scores, row_masks)

        indices, values = top_n_rows(scores, num_results)
        filled = np.zeros(indices.shape, bool)
        for row in np.flatnonzero(indices[:, -1] < 0).tolist():
            self._fill_row(scored, row, row_masks[row], indices, filled)
        return RankedBlock(indices, values, filled, scored.popular)

    def _fill_row(
        self,
        scored: ScoredUsers,
        row: int,
        mask: np.ndarray | None,
        indices: np.ndarray,
        filled: np.ndarray,
    ) -> None:
        """Fill a short row with popular unscored items that pass its mask."""
        start = int(np.count_nonzero(indices[row] >= 0))
        allowed = _or_all(mask, scored.scores.shape[1]) & ~np.isfinite(scored.scores[row])
        allowed[scored.excluded_items(row)] = False
        fill = _best(np.where(allowed, self.popularity, -np.inf), indices.shape[1] - start)
        indices[row, start : start + fill.size] = fill
        filled[row, start : start + fill.size] = True


@dataclass(frozen=True)
class _Picked:
    """Chosen item indices, of which the last ``filled`` are popular fill-up items."""

    indices: np.ndarray
    filled: int

    @classmethod
    def empty(cls) -> _Picked:
        return cls(np.zeros(0, np.int64), 0)


def _best(scores: np.ndarray, count: int) -> np.ndarray:
    """The indices of the ``count`` best finite scores of one row, as ``top_items`` gives
    them, a few times faster on a large catalogue."""
    return top_n_row(scores, count)


def _or_all(mask: np.ndarray | None, size: int) -> np.ndarray:
    return np.ones(size, bool) if mask is None else mask


def _apply_masks(scores: np.ndarray, masks: list[np.ndarray | None]) -> None:
    """Set the scores a row's mask leaves out to -inf, one addition per distinct mask."""
    by_mask: dict[int, tuple[np.ndarray, list[int]]] = {}
    for row, mask in enumerate(masks):
        if mask is not None:
            by_mask.setdefault(id(mask), (mask, []))[1].append(row)
    for mask, rows in by_mask.values():
        penalty = np.where(mask, 0.0, -np.inf).astype(scores.dtype)
        if len(rows) == scores.shape[0]:
            np.add(scores, penalty, out=scores)
        else:
            selected = np.asarray(rows)
            scores[selected] += penalty


def _spread(
    regular: list[RecommendedItem], promoted: list[RecommendedItem], seed: str
) -> list[RecommendedItem]:
    """Place the promoted items, in order, one in each equal stretch of the list."""
    total = len(regular) + len(promoted)
    if not promoted:
        return regular
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    bounds = [(k * total) // len(promoted) for k in range(len(promoted) + 1)]
    positions = {
        int(rng.integers(low, high)) for low, high in zip(bounds, bounds[1:], strict=False)
    }
    merged: list[RecommendedItem] = []
    remaining_regular, remaining_promoted = iter(regular), iter(promoted)
    for position in range(total):
        source = remaining_promoted if position in positions else remaining_regular
        merged.append(next(source))
    return merged


def top_n_row(scores: np.ndarray, count: int) -> np.ndarray:
    """The indices of the ``count`` best finite scores of one row, best first, ties to the
    lower index: :func:`top_n_rows` for a single request, with fewer numpy calls.

    Parameters
    ----------
    scores : numpy.ndarray
        One row of scores; NaN and infinite scores are never chosen.
    count : int

    Returns
    -------
    numpy.ndarray
        At most ``count`` int64 item indices (fewer when fewer scores are finite).

    Examples
    --------
    >>> top_n_row(np.array([0.1, 0.9, 0.5, 0.9]), 3)
    array([1, 3, 2])
    """
    row = np.asarray(scores)
    groups = max(_GROUPS, 4 * count)
    if count <= 0 or row.ndim != 1 or row.size < 2 * groups or row.dtype.kind != "f":
        return _top_of_one_row(row, count)
    # Each group's maximum; the count-th largest of them bounds the count-th best score from
    # below, unless a group holds no finite score (then the general path sorts it out).
    maxima = row[: row.size - row.size % groups].reshape(-1, groups).max(axis=0)
    if not np.isfinite(maxima).all():
        return _top_of_one_row(row, count)
    bound = np.partition(maxima, groups - count)[groups - count]
    candidates = np.flatnonzero(row >= bound)
    order = np.lexsort((candidates, -row[candidates]))[:count]
    return candidates[order]


def _top_of_one_row(row: np.ndarray, count: int) -> np.ndarray:
    """:func:`top_n_rows` on one row, without its padding."""
    indices = top_n_rows(row.reshape(1, -1), count)[0][0]
    return indices[indices >= 0]


def top_n_rows(scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` best finite scores of every row, best first, ties to the lower index.

    The rows' columns are dealt into 256 (or ``4 * count``) interleaved groups; the
    ``count``-th largest group maximum is a lower bound of each row's ``count``-th best
    score, so only the few scores at or above it are sorted. The answer is exactly that of
    :func:`engine.evaluation.top_items` on each row.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(rows, items)``; NaN and infinite scores are never chosen.
    count : int
        How many per row.

    Returns
    -------
    indices, values : numpy.ndarray
        ``(rows, count)`` item indices (int64, -1 past the end of a row with fewer finite
        scores) and their scores (NaN there).

    Examples
    --------
    >>> top_n_rows(np.array([[0.1, 0.9, 0.5], [1.0, -np.inf, 1.0]]), 2)[0]
    array([[1, 2],
           [0, 2]])
    """
    scores = np.ascontiguousarray(scores)
    rows, width = scores.shape
    threshold = _lower_bounds(scores, count)
    flat = np.flatnonzero(scores >= threshold[:, np.newaxis])
    row_of, column = np.divmod(flat, width)
    value = scores.ravel()[flat]
    finite = np.isfinite(value)
    row_of, column, value = row_of[finite], column[finite], value[finite]

    order = np.lexsort((column, -value, row_of))
    row_of, column, value = row_of[order], column[order], value[order]
    rank = np.arange(row_of.size) - np.searchsorted(row_of, np.arange(rows))[row_of]
    keep = rank < count
    indices = np.full((rows, count), -1, np.int64)
    values = np.full((rows, count), np.nan, scores.dtype)
    indices[row_of[keep], rank[keep]] = column[keep]
    values[row_of[keep], rank[keep]] = value[keep]
    return indices, values


def _lower_bounds(scores: np.ndarray, count: int) -> np.ndarray:
    """Per row, a value at or below its ``count``-th best finite score (above no -inf)."""
    rows, width = scores.shape
    groups = max(_GROUPS, 4 * count)
    lowest = np.finfo(scores.dtype).min if scores.dtype.kind == "f" else -np.inf
    if width < 2 * groups or count == 0:
        return np.full(rows, lowest, scores.dtype)

    usable = width - width % groups
    maxima = np.fmax.reduce(scores[:, :usable].reshape(rows, -1, groups), axis=1)
    unusable = np.isnan(maxima) | np.isposinf(maxima)
    if unusable.any():
        # A group of NaN or +inf holds no finite score: drop such groups' maxima.
        maxima[unusable] = -np.inf
    bound = np.partition(maxima, groups - count, axis=1)[:, groups - count]
    return np.fmax(bound, lowest)
