"""Offline evaluation with the service's protocol.

A share of users (10 % by default, chosen at random with a seed) is held out of training.
For each held-out user, the oldest 90 % of their interactions are the history fed to the
model and the newest 10 % are the truth. The model ranks the items the user has not touched
in the history; the top 25 are scored against the truth.

Choices the service leaves open, made here:

- Only users with at least two interactions can be held out, so that every test user has a
  history and a truth. The truth is at least one interaction (``max(1, round(0.1 * n))``).
- The truth is the set of distinct items of the newest interactions that are not already in
  the history: an item seen in the history is never recommended, so it could never be a hit.
  A test user whose truth is empty after that is skipped and counted in
  ``num_test_users_skipped``.
- ``coverage`` is the share of the catalogue (every item of Interactions and Items) that
  appears in at least one test user's top 25.
- Ties between equal scores are broken by the lower item index, so a ranking is deterministic.

Beside the service's metrics, ``recall_at_K`` (hits in the top K over the number of truth
items) is computed for the cold-start protocols of :mod:`engine.protocols`, where a user's
truth can be much larger than K; it is not one of the service's metrics, so a solution
version does not report it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recipes.similarity import top_rows

__all__ = [
    "CUTOFFS",
    "METRIC_NAMES",
    "RECALL_NAMES",
    "EvaluationSplit",
    "Metrics",
    "evaluate_rankings",
    "evaluate_scores",
    "rank_top",
    "rows_of_users",
    "split_users",
    "top_items",
]

logger = logging.getLogger(__name__)

CUTOFFS = (5, 10, 25)
_RANK_BLOCK_BYTES = 16 * 2**20
MAX_CUTOFF = 25
METRIC_NAMES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
RECALL_NAMES = tuple(f"recall_at_{cutoff}" for cutoff in CUTOFFS)


@dataclass(frozen=True)
class EvaluationSplit:
    """Which events train, which are test history, which are test truth (boolean masks)."""

    train: np.ndarray
    history: np.ndarray
    truth: np.ndarray
    test_users: np.ndarray


@dataclass(frozen=True)
class Metrics:
    """Averaged metrics plus the per-user values they came from."""

    values: dict[str, float]
    per_user: dict[str, np.ndarray]
    test_users: np.ndarray
    num_test_users_skipped: int


def split_users(
    user_indices: np.ndarray, timestamps: np.ndarray, test_share: float, seed: int
) -> EvaluationSplit:
    """Hold out ``test_share`` of the users with two or more interactions.

    Events must be given in a deterministic order; within a user, the order by
    ``(timestamp, position)`` decides which interactions are the newest.
    """
    counts = np.bincount(user_indices)
    eligible = np.flatnonzero(counts >= 2)
    rng = np.random.default_rng(seed)
    num_test = int(round(test_share * eligible.size))
    test_users = np.sort(rng.choice(eligible, size=num_test, replace=False))

    is_test = np.zeros(counts.size, bool)
    is_test[test_users] = True
    in_test = is_test[user_indices]

    # Rank each event within its user from oldest (0) to newest.
    order = _by_user_then_time(user_indices, timestamps)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.empty(user_indices.size, np.int64)
    position[order] = np.arange(user_indices.size) - starts[user_indices[order]]

    num_truth = np.maximum(1, np.round(0.1 * counts)).astype(np.int64)
    is_truth = position >= counts[user_indices] - num_truth[user_indices]
    return EvaluationSplit(
        train=~in_test,
        history=in_test & ~is_truth,
        truth=in_test & is_truth,
        test_users=test_users,
    )


def rows_of_users(
    user_indices: np.ndarray,
    item_indices: np.ndarray,
    values: np.ndarray,
    test_users: np.ndarray,
    num_items: int,
) -> sp.csr_matrix:
    """Summed ``values`` per item, one row per entry of ``test_users``, in that order.

    Only the events of test users may be given (mask the arrays first).
    """
    row_of_user = np.full(
        int(max(user_indices.max(initial=-1), test_users.max(initial=-1))) + 1, -1
    )
    row_of_user[test_users] = np.arange(test_users.size)
    matrix = sp.csr_matrix(
        (values, (row_of_user[user_indices], item_indices)), shape=(test_users.size, num_items)
    )
    matrix.sum_duplicates()
    return matrix


def _by_user_then_time(user_indices: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Event order by user, then timestamp, then position.

    Events already in time order (as the interaction cache keeps them) need only a stable
    sort by user, about half the time of a sort by all three keys.
    """
    if np.all(timestamps[1:] >= timestamps[:-1]):
        return np.argsort(user_indices, kind="stable")
    return np.lexsort((np.arange(user_indices.size), timestamps, user_indices))


def top_items(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` best finite scores of one row, best first.

    Ties go to the lower item index, also at the cut-off, so the answer is deterministic.
    """
    finite = np.isfinite(scores)
    count = min(count, int(finite.sum()))
    if count == 0:
        return np.empty(0, np.int64)
    masked = np.where(finite, scores, -np.inf)
    threshold = np.partition(masked, masked.size - count)[masked.size - count]

    # Everything above the threshold, then the lowest-index ties to fill up.
    above = np.flatnonzero(masked > threshold)
    ties = np.flatnonzero(masked == threshold)[: count - above.size]
    chosen = np.concatenate((above, ties))
    order = np.lexsort((chosen, -masked[chosen]))
    return chosen[order]


def rank_top(scores: np.ndarray, excluded: sp.csr_matrix | None, count: int) -> np.ndarray:
    """Top ``count`` item indices per row, best first, leaving out ``excluded`` items.

    Rows with fewer than ``count`` eligible items are padded with ``-1``.
    """
    # A copy in the scores' own precision (float32 from the factor models): half the memory.
    scores = np.array(scores, dtype=np.result_type(scores, np.float32), copy=True)
    if excluded is not None and excluded.nnz:
        rows = np.repeat(np.arange(excluded.shape[0]), np.diff(excluded.indptr))
        scores[rows, excluded.indices] = -np.inf

    # A few rows at a time, so that the selection's temporaries stay small.
    ranked = np.full((scores.shape[0], count), -1, np.int64)
    block = max(1, _RANK_BLOCK_BYTES // (scores.itemsize * max(1, scores.shape[1])))
    for start in range(0, scores.shape[0], block):
        rows_slice = slice(start, start + block)
        ranked[rows_slice] = top_rows(scores[rows_slice], count, positive_only=False)[0]
    return ranked


def evaluate_rankings(
    score_histories: Callable[[sp.csr_matrix], np.ndarray],
    histories: sp.csr_matrix,
    truths: sp.csr_matrix,
    test_users: np.ndarray,
    num_items: int,
    batch_size: int = 1024,
) -> Metrics:
    """Score every test user from their history and compute the service's metrics.

    ``histories`` and ``truths`` have one row per entry of ``test_users``.
    """
    return evaluate_scores(
        lambda rows: score_histories(histories[rows]),
        histories,
        truths,
        test_users,
        num_items,
        batch_size=batch_size,
    )


def evaluate_scores(
    score_rows: Callable[[np.ndarray], np.ndarray],
    excluded: sp.csr_matrix,
    truths: sp.csr_matrix,
    test_users: np.ndarray,
    num_items: int,
    metric_names: tuple[str, ...] = METRIC_NAMES,
    batch_size: int = 1024,
) -> Metrics:
    """Rank items for each test user and compute ``metric_names``.

    Parameters
    ----------
    score_rows : callable
        Given positions into ``test_users``, returns their scores, one row each.
    excluded, truths : csr_matrix of shape (len(test_users), num_items)
        Items never to rank for the row (its history), and the items it should get.
    test_users : ndarray
        Who each row is; users with an empty truth are skipped and counted.
    num_items : int
        Items that can be ranked; ``coverage`` is the share of them in some top 25.
    metric_names : tuple of str
        Which of :data:`METRIC_NAMES` and :data:`RECALL_NAMES` to report.
    """
    kept = np.flatnonzero(np.diff(truths.indptr) > 0)
    excluded, truths = excluded[kept], truths[kept]
    ranked = np.full((kept.size, MAX_CUTOFF), -1, np.int64)
    for start in range(0, kept.size, batch_size):
        rows = slice(start, start + batch_size)
        ranked[rows] = rank_top(score_rows(kept[rows]), excluded[rows], MAX_CUTOFF)

    per_user = _per_user_metrics(ranked, truths)
    values = {name: float(per_user[name].mean()) if kept.size else 0.0 for name in per_user}
    recommended = np.unique(ranked[ranked >= 0])
    values["coverage"] = recommended.size / num_items if num_items else 0.0
    logger.debug("evaluated %d test users", kept.size)
    return Metrics(
        values={name: values[name] for name in metric_names},
        per_user={name: per_user[name] for name in metric_names if name in per_user},
        test_users=test_users[kept],
        num_test_users_skipped=int(test_users.size - kept.size),
    )


def _per_user_metrics(ranked: np.ndarray, truths: sp.csr_matrix) -> dict[str, np.ndarray]:
    hits = np.zeros(ranked.shape, bool)
    for row in range(ranked.shape[0]):
        truth = truths.indices[truths.indptr[row] : truths.indptr[row + 1]]
        hits[row] = np.isin(ranked[row], truth) & (ranked[row] >= 0)
    num_relevant = np.diff(truths.indptr)
    discounts = 1.0 / np.log2(np.arange(2, MAX_CUTOFF + 2))

    per_user: dict[str, np.ndarray] = {}
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    per_user["mean_reciprocal_rank_at_25"] = np.where(
        first_hit > 0, 1.0 / np.maximum(first_hit, 1), 0
    )
    for cutoff in CUTOFFS:
        gains = (hits[:, :cutoff] * discounts[:cutoff]).sum(axis=1)
        ideal_counts = np.minimum(num_relevant, cutoff)
        ideal = np.cumsum(discounts[:cutoff])[np.maximum(ideal_counts, 1) - 1]
        per_user[f"normalized_discounted_cumulative_gain_at_{cutoff}"] = gains / ideal
        per_user[f"precision_at_{cutoff}"] = hits[:, :cutoff].sum(axis=1) / cutoff
        per_user[f"recall_at_{cutoff}"] = hits[:, :cutoff].sum(axis=1) / np.maximum(num_relevant, 1)
    return per_user
