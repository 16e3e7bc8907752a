"""The three offline evaluation protocols: standard, held-out new users, held-out new items.

``standard``
    The service's protocol (:mod:`engine.evaluation`): a share of users (10 % by default)
    is held out of training; each is scored from the oldest nine tenths of their events and
    judged on the newest tenth. It measures how well a recipe knows people with a past.

The two cold-start protocols measure what metadata is for, the users and items with (almost)
no past. All three are seeded and deterministic; ``seed`` and the shares are the solution's.

``new-users``
    A share of the users with at least ``history_size + 1`` distinct items (10 % by default,
    drawn with the seed) is removed from training entirely. Each is then scored from their
    Users metadata and their first ``history_size`` distinct items (3 by default): the
    history is every event before the user's first event on a further item, in
    ``(timestamp, position)`` order, weighed as the recipe weighs events. The truth is every
    other item the user took. Items of the history are never ranked. The metrics are those
    of the service's protocol plus ``recall_at_K``.

``new-items``
    A share of the items with interactions (10 % by default, drawn with the seed) is removed
    from training entirely: none of their events is trained on, so the model knows them by
    their Items metadata alone. The test users are the users with at least one event on a
    new item and one on another item, so that they are known to the model. For each, the
    model scores the new items only (the candidates) and the truth is the new items that
    user took. ``recall_at_K`` is the share of them in the user's top K of the new items,
    ``normalized_discounted_cumulative_gain_at_K`` and ``precision_at_K`` are computed as in
    the service's protocol over that ranking, and ``coverage`` is the share of new items in
    some user's top 25. A recipe that knows nothing of new items scores them all alike;
    ties are broken in an order drawn with the seed, never by item index, so such a
    recipe ranks at chance (about ``K / number of new items`` recall) instead of inheriting
    whatever order the item ids have.

In the standard and new-users protocols held-out users are scored with
``Model.score_new_users``, so a recipe that learns from Users columns represents them by
their metadata as well as their history.

Limitation: the new items are drawn at random, not the newest ones, so users' other events
after a new item's first interaction stay in training; this measures the metadata's worth
for cold items without the service's time-ordered item launches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.evaluation import (
    METRIC_NAMES,
    RECALL_NAMES,
    EvaluationSplit,
    Metrics,
    evaluate_scores,
    rows_of_users,
    split_users,
)
from recipes import InteractionData, Recipe

__all__ = [
    "COLD_START_METRIC_NAMES",
    "DEFAULT_HISTORY_SIZE",
    "NewItemSplit",
    "PROTOCOLS",
    "evaluate_new_items",
    "evaluate_new_users",
    "evaluate_standard",
    "split_new_items",
    "split_new_users",
]

logger = logging.getLogger(__name__)

PROTOCOLS = ("standard", "new-users", "new-items")
DEFAULT_HISTORY_SIZE = 3
COLD_START_METRIC_NAMES = METRIC_NAMES + RECALL_NAMES


def evaluate_standard(
    recipe: Recipe,
    data: InteractionData,
    hyperparameters: Mapping[str, Any],
    seed: int,
    test_share: float = 0.1,
    show_progress: bool = False,
    metric_names: tuple[str, ...] = METRIC_NAMES,
) -> Metrics:
    """The service's protocol: held-out users, scored from their oldest nine tenths.

    Returns
    -------
    Metrics
        ``metric_names``: by default the service's :data:`~engine.evaluation.METRIC_NAMES`,
        which a solution version reports; :data:`COLD_START_METRIC_NAMES` adds recall.
    """
    split = split_users(data.user_indices, data.timestamps, test_share, seed)
    return _evaluate_held_out_users(
        recipe, data, hyperparameters, seed, split, metric_names, show_progress
    )


def evaluate_new_users(
    recipe: Recipe,
    data: InteractionData,
    hyperparameters: Mapping[str, Any],
    seed: int,
    test_share: float = 0.1,
    history_size: int = DEFAULT_HISTORY_SIZE,
    show_progress: bool = False,
) -> Metrics:
    """Train without the held-out new users, then score them from metadata and first items.

    Returns
    -------
    Metrics
        :data:`COLD_START_METRIC_NAMES`, averaged over the test users.
    """
    split = split_new_users(data, test_share, history_size, seed)
    logger.info("new-users protocol: %d held-out users", split.test_users.size)
    return _evaluate_held_out_users(
        recipe, data, hyperparameters, seed, split, COLD_START_METRIC_NAMES, show_progress
    )


def _evaluate_held_out_users(
    recipe: Recipe,
    data: InteractionData,
    hyperparameters: Mapping[str, Any],
    seed: int,
    split: EvaluationSplit,
    metric_names: tuple[str, ...],
    show_progress: bool,
) -> Metrics:
    """Fit on ``split.train``; score each test user from their weighted history rows."""
    model = recipe.fit(data.subset(split.train), hyperparameters, seed, show_progress)
    weights = recipe.event_weights(data, hyperparameters)

    def rows(mask: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
        users, items = data.user_indices[mask], data.item_indices[mask]
        return rows_of_users(users, items, values[mask], split.test_users, data.num_items)

    histories = rows(split.history, weights)
    truths = rows(split.truth, np.ones(len(data), np.float32))
    return evaluate_scores(
        lambda positions: model.score_new_users(histories[positions], split.test_users[positions]),
        histories,
        truths,
        split.test_users,
        data.num_items,
        metric_names=metric_names,
    )


def split_new_users(
    data: InteractionData, test_share: float, history_size: int, seed: int
) -> EvaluationSplit:
    """Hold out ``test_share`` of the users with more than ``history_size`` distinct items.

    See the module docstring for the definition.
    """
    order = np.lexsort((np.arange(len(data)), data.timestamps, data.user_indices))
    users = data.user_indices[order]
    rank = _distinct_item_rank(users, data.item_indices[order], data.num_items)
    distinct = np.zeros(data.num_users, np.int64)
    np.maximum.at(distinct, users, rank + 1)

    eligible = np.flatnonzero(distinct > history_size)
    rng = np.random.default_rng(seed)
    count = int(round(test_share * eligible.size))
    test_users = np.sort(rng.choice(eligible, size=count, replace=False))
    is_test = np.isin(data.user_indices, test_users)

    in_history = np.empty(len(data), bool)
    in_history[order] = rank < history_size
    return EvaluationSplit(
        train=~is_test,
        history=is_test & in_history,
        truth=is_test & ~in_history,
        test_users=test_users,
    )


def _distinct_item_rank(users: np.ndarray, items: np.ndarray, num_items: int) -> np.ndarray:
    """For events sorted by user then time: how many distinct items the user took before
    the event's item (0 for every event on the user's first item)."""
    pairs = users.astype(np.int64) * num_items + items
    _, first, pair_of_event = np.unique(pairs, return_index=True, return_inverse=True)
    is_first = np.zeros(users.size, bool)
    is_first[first] = True

    # Number the first events within each user's block: 0, 1, 2, ...
    firsts_so_far = np.cumsum(is_first)
    block_start = np.searchsorted(users, users, side="left")
    firsts_before_block = np.where(block_start > 0, firsts_so_far[block_start - 1], 0)
    rank_at_first = firsts_so_far - firsts_before_block - 1
    return rank_at_first[first][pair_of_event]


@dataclass(frozen=True)
class NewItemSplit:
    """Events trained on (a mask), the new items, and the test users with their truths.

    ``truths`` has one row per test user and one column per new item.
    """

    train: np.ndarray
    new_items: np.ndarray
    test_users: np.ndarray
    truths: sp.csr_matrix


def split_new_items(data: InteractionData, test_share: float, seed: int) -> NewItemSplit:
    """Hold out ``test_share`` of the items with interactions; see the module docstring."""
    taken = np.flatnonzero(np.bincount(data.item_indices, minlength=data.num_items))
    rng = np.random.default_rng(seed)
    count = int(round(test_share * taken.size))
    new_items = np.sort(rng.choice(taken, size=count, replace=False))
    on_new = np.isin(data.item_indices, new_items)

    known = np.unique(data.user_indices[~on_new])
    test_users = np.intersect1d(np.unique(data.user_indices[on_new]), known)
    column_of_item = np.full(data.num_items, -1, np.int64)
    column_of_item[new_items] = np.arange(new_items.size)

    chosen = on_new & np.isin(data.user_indices, test_users)
    truths = rows_of_users(
        data.user_indices[chosen],
        column_of_item[data.item_indices[chosen]],
        np.ones(int(chosen.sum()), np.float32),
        test_users,
        new_items.size,
    )
    truths.data[:] = 1.0
    return NewItemSplit(train=~on_new, new_items=new_items, test_users=test_users, truths=truths)


def evaluate_new_items(
    recipe: Recipe,
    data: InteractionData,
    hyperparameters: Mapping[str, Any],
    seed: int,
    test_share: float = 0.1,
    show_progress: bool = False,
) -> Metrics:
    """Train without the held-out new items, then rank them for the users who took them.

    Returns
    -------
    Metrics
        :data:`COLD_START_METRIC_NAMES` over rankings of the new items only.
    """
    split = split_new_items(data, test_share, seed)
    model = recipe.fit(data.subset(split.train), hyperparameters, seed, show_progress)
    logger.info(
        "new-items protocol: %d new items, %d test users",
        split.new_items.size,
        split.test_users.size,
    )

    # Candidates in a seeded order, so that equal scores tie-break at random, not by item id.
    shuffle = np.random.default_rng(seed).permutation(split.new_items.size)
    candidates = split.new_items[shuffle]
    truths = split.truths[:, shuffle].tocsr()
    return evaluate_scores(
        lambda positions: model.score_users(split.test_users[positions])[:, candidates],
        sp.csr_matrix(truths.shape, dtype=np.float32),
        truths,
        split.test_users,
        candidates.size,
        metric_names=COLD_START_METRIC_NAMES,
    )
