"""Popularity-Count: every user gets the items most users have interacted with.

It mirrors the service's ``aws-popularity-count`` recipe and is the fallback for users the
personalized recipes know nothing about.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recipes.base import Hyperparameter, InteractionData, Model, Recipe
from recipes.recency import RECENCY_HYPERPARAMETER, recency_weights

__all__ = ["PopularityCount", "PopularityModel"]

logger = logging.getLogger(__name__)


class PopularityModel(Model):
    """Scores every item by the number of distinct users who interacted with it.

    Parameters
    ----------
    item_popularity : ndarray of shape (num_items,)
        Count of distinct users per item, float32.

    Notes
    -----
    Scores are the raw counts, so equally popular items tie; serving breaks ties by the lower
    item index, which keeps the ranking deterministic.
    """

    recipe: ClassVar[str] = "popularity-count"

    def __init__(self, item_popularity: np.ndarray) -> None:
        self.item_popularity = np.asarray(item_popularity, dtype=np.float32)

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.item_popularity.shape[0])

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """The popularity row once per user: shape ``(len(user_indices), num_items)``."""
        return self._repeat(len(user_indices))

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """The popularity row once per history row; the histories themselves are ignored."""
        return self._repeat(histories.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned array, ``item_popularity``."""
        return {"item_popularity": self.item_popularity}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> PopularityModel:
        """Rebuild the model from :meth:`arrays`; it takes no hyperparameters."""
        return cls(arrays["item_popularity"])

    def _repeat(self, num_rows: int) -> np.ndarray:
        return np.tile(self.item_popularity, (num_rows, 1))


class PopularityCount(Recipe):
    """Items ranked by how many distinct users interacted with them.

    A user who repeats an event on an item counts once for that item, as the service counts
    "most interactions from unique users". With ``recency_half_life_days`` set, each user
    counts with the recency weight of their newest event on the item
    (see :mod:`recipes.recency`), so items popular lately rise above items popular long ago.

    Examples
    --------
    >>> hyperparameters = PopularityCount.validate_hyperparameters({})
    >>> model = PopularityCount().fit(data, hyperparameters, seed=0)  # doctest: +SKIP
    >>> model.item_popularity  # doctest: +SKIP
    array([3., 1., 0.], dtype=float32)
    """

    name: ClassVar[str] = "popularity-count"
    description: ClassVar[str] = "Items by count of distinct users; the same list for everyone."
    model_class: ClassVar[type[Model]] = PopularityModel
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (RECENCY_HYPERPARAMETER,)

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> PopularityModel:
        """Count distinct users per item; ``seed`` and ``show_progress`` are not needed."""
        start = time.perf_counter()
        popularity = distinct_users_per_item(data, hyperparameters["recency_half_life_days"])
        logger.info(
            "fitted %s on %d events over %d items in %.2f s",
            self.name,
            len(data),
            data.num_items,
            time.perf_counter() - start,
        )
        return PopularityModel(popularity)


def distinct_users_per_item(data: InteractionData, half_life_days: float = 0.0) -> np.ndarray:
    """Distinct users with an event on each item, each weighed by their newest event's recency.

    With ``half_life_days`` 0 every user counts 1, so this is the plain count.
    """
    pairs = data.user_indices.astype(np.int64) * data.num_items + data.item_indices
    unique_pairs, pair_of_event = np.unique(pairs, return_inverse=True)
    newest = np.full(unique_pairs.size, np.iinfo(np.int64).min)
    np.maximum.at(newest, pair_of_event, data.timestamps)

    # The newest pair holds the newest event, so ages count from it as in the other recipes.
    weights = recency_weights(newest, half_life_days)
    items = unique_pairs % data.num_items
    return np.bincount(items, weights=weights, minlength=data.num_items).astype(np.float32)
