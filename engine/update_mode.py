"""What a training in ``UPDATE`` mode starts from: the FULL version and what changed since.

An ``UPDATE`` version is a fast refresh of the solution's latest ACTIVE ``FULL`` version: the
recipe (see :meth:`recipes.Recipe.update`) keeps what that version learned and brings in the
users and items that came since, and the users whose history changed, without training
from scratch. This module lines the current data up with the FULL version's artifact: where
each current user and item was in it, and which users' weighted histories differ from the
ones it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from recipes import Model, Refresh

__all__ = ["refresh_from"]

# Two summed weights closer than this count as the same history.
_TOLERANCE = 1e-5


def refresh_from(
    model: Model, base_arrays: Mapping[str, np.ndarray], current: Mapping[str, np.ndarray]
) -> Refresh:
    """Line the current serving arrays up with a FULL version's model and artifact.

    Parameters
    ----------
    model
        The FULL version's model.
    base_arrays
        Its artifact arrays: ``user_ids``, ``item_ids`` and the weighted seen items.
    current
        The same arrays built from the current data, as the new version will store them.
    """
    known_users = positions(current["user_ids"], base_arrays["user_ids"])
    known_items = positions(current["item_ids"], base_arrays["item_ids"])
    changed = _changed_users(base_arrays, current, known_items)
    return Refresh(model, known_users, known_items, changed | (known_users < 0))


def positions(ids: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Index of each of ``ids`` in ``vocabulary``, -1 where it is absent (int64)."""
    ids, vocabulary = np.asarray(ids), np.asarray(vocabulary)
    if vocabulary.size == 0:
        return np.full(ids.size, -1, np.int64)
    order = np.argsort(vocabulary, kind="stable")
    ordered = vocabulary[order]
    at = np.minimum(np.searchsorted(ordered, ids), ordered.size - 1)
    return np.where(ordered[at] == ids, order[at], -1).astype(np.int64)


def _changed_users(
    base: Mapping[str, np.ndarray], current: Mapping[str, np.ndarray], known_items: np.ndarray
) -> np.ndarray:
    """Whether each current user's weighted seen items differ from the FULL version's."""
    shape = (len(current["user_ids"]), len(current["item_ids"]))
    now = _seen_matrix(current, shape)

    # The FULL version's histories, moved to the current users' and items' indices.
    user_rows = positions(base["user_ids"], current["user_ids"])
    item_columns = np.full(len(base["item_ids"]), -1, np.int64)
    item_columns[known_items[known_items >= 0]] = np.flatnonzero(known_items >= 0)
    before = _seen_matrix(base, (len(base["user_ids"]), len(base["item_ids"]))).tocoo()
    rows, columns = user_rows[before.row], item_columns[before.col]
    kept = (rows >= 0) & (columns >= 0)
    moved = sp.csr_matrix((before.data[kept], (rows[kept], columns[kept])), shape=shape)

    difference = (now - moved).tocsr()
    difference.data = (np.abs(difference.data) > _TOLERANCE).astype(np.float64)
    return np.asarray(difference.sum(axis=1)).ravel() > 0


def _seen_matrix(arrays: Mapping[str, np.ndarray], shape: tuple[int, int]) -> sp.csr_matrix:
    """Users × items of the summed training weights an artifact stores."""
    indices = np.asarray(arrays["seen_indices"])
    weights = arrays.get("seen_weights")
    values = np.ones(indices.size) if weights is None else np.asarray(weights, np.float64)
    return sp.csr_matrix((values, indices, np.asarray(arrays["seen_indptr"])), shape=shape)
