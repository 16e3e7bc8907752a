"""Similar-Items: each item's most related items, stored as a table so serving is a lookup.

It mirrors the service's ``aws-sims`` and ``aws-similar-items`` recipes. Two items are
related by what users did with them (co-occurrence, or learned ALS factors), blended with
how alike their metadata is, so that an item with few or no interactions still has
neighbours.

Co-occurrence
    ``C[i, j]`` is the number of distinct users who interacted with both ``i`` and ``j``
    and ``n[j]`` the number who interacted with ``j``. A pair with fewer than
    ``min_cointeraction_count`` co-interactions (and at least one) is not related. The
    collaborative similarity is::

        cosine(i, j) ** d * (n[j] / max(n)) ** (1 - d),   cosine = C / sqrt(n[i] * n[j])

    with ``d`` the ``popularity_discount_factor``: at 0 the most popular co-interacted items
    come first, at 1 the pure co-occurrence cosine ranks them, which is how the service
    describes the factor's two ends (its exact formula is not published).
Factors
    ALS (as in ``user-personalization``) learns item factors; the cosine of two items'
    factors, where positive, replaces the co-occurrence cosine above, with the same
    popularity discount. ``min_cointeraction_count`` does not apply: factors relate items
    no user took together.
Metadata
    The cosine of the items' featurized Items columns (:mod:`recipes.featurize`), where
    positive. The blend is ``(1 - w) * collaborative + w * metadata`` with ``w`` the
    ``metadata_weight``; without Items columns the collaborative part is used alone.

Every score lies in [0, 1]. A user's scores (for the recipe contract and offline metrics)
sum their history's event weights times each history item's similarities to the item; a
user whose history has no neighbour at all gets the items' popularity share instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recipes.als import EVENT_WEIGHT_HYPERPARAMETERS, EventWeightedRecipe, UserPersonalization
from recipes.base import (
    Hyperparameter,
    InteractionData,
    Model,
    check_history_columns,
    checked_user_indices,
)
from recipes.featurize import MAX_TEXT_FEATURES, feature_matrix
from recipes.similarity import NeighbourTable, neighbour_table, unit_sparse_rows

__all__ = ["SimilarItems", "SimilarItemsModel"]

logger = logging.getLogger(__name__)

SIMILARITY_SOURCES = ("cooccurrence", "factors")
_ALS_SPECS = {spec.name: spec for spec in UserPersonalization.hyperparameters}
_ALS_NAMES = ("factors", "regularization", "iterations", "alpha")


class SimilarItemsModel(Model):
    """A neighbour table, and the training users' histories to score users from it.

    Parameters
    ----------
    neighbour_indices : int32 ndarray of shape (num_items, num_neighbours)
        Each item's most similar items, best first; ``-1`` in empty slots.
    neighbour_scores : float32 ndarray of shape (num_items, num_neighbours)
        Their similarities in (0, 1]; 0 in empty slots.
    item_popularity : float32 ndarray of shape (num_items,)
        Distinct users per item, for users whose history has no neighbours.
    history_indptr, history_indices, history_weights : ndarray
        The training users' weighted histories as CSR arrays (users × items).
    """

    recipe: ClassVar[str] = "similar-items"

    def __init__(
        self,
        neighbour_indices: np.ndarray,
        neighbour_scores: np.ndarray,
        item_popularity: np.ndarray,
        history_indptr: np.ndarray,
        history_indices: np.ndarray,
        history_weights: np.ndarray,
    ) -> None:
        self.table = NeighbourTable(
            np.asarray(neighbour_indices, np.int32), np.asarray(neighbour_scores, np.float32)
        )
        self.item_popularity = np.asarray(item_popularity, np.float32)
        self.histories = sp.csr_matrix(
            (
                np.asarray(history_weights, np.float32),
                np.asarray(history_indices, np.int32),
                np.asarray(history_indptr, np.int64),
            ),
            shape=(np.asarray(history_indptr).size - 1, self.table.indices.shape[0]),
        )
        self._similarities = self.table.matrix()

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.table.indices.shape[0])

    @property
    def num_users(self) -> int:
        """Number of users seen in training."""
        return int(self.histories.shape[0])

    @property
    def supports_similar_items(self) -> bool:
        """Always: the neighbour table relates items."""
        return True

    def similar_items(self, item_index: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The item's first ``count`` neighbours and their scores, read from the table."""
        row = self.table.indices[item_index, :count]
        filled = row >= 0
        scores = self.table.scores[item_index, :count]
        return row[filled].astype(np.int64), scores[filled].astype(np.float64)

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of training users from their training histories, float32.

        Raises
        ------
        InvalidInputError
            An index is not a training user.
        """
        indices = checked_user_indices(user_indices, self.num_users)
        return self.score_histories(self.histories[indices])

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Summed similarities of each history's items to every item, float32.

        Raises
        ------
        InvalidInputError
            The histories do not have one column per item.
        """
        check_history_columns(histories, self.num_items)
        scores = np.asarray((sp.csr_matrix(histories) @ self._similarities).toarray())
        without_neighbours = ~(scores > 0).any(axis=1)
        share = self.item_popularity / max(float(self.item_popularity.max(initial=0.0)), 1.0)
        scores[without_neighbours] = share
        return scores.astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The neighbour table, item popularity and the training histories."""
        return {
            "neighbour_indices": self.table.indices,
            "neighbour_scores": self.table.scores,
            "item_popularity": self.item_popularity,
            "history_indptr": self.histories.indptr.astype(np.int64),
            "history_indices": self.histories.indices.astype(np.int32),
            "history_weights": self.histories.data.astype(np.float32),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> SimilarItemsModel:
        """Rebuild the model from :meth:`arrays`; serving needs no hyperparameter."""
        return cls(
            arrays["neighbour_indices"],
            arrays["neighbour_scores"],
            arrays["item_popularity"],
            arrays["history_indptr"],
            arrays["history_indices"],
            arrays["history_weights"],
        )


class SimilarItems(EventWeightedRecipe):
    """Related items from co-occurrence or ALS factors, blended with metadata similarity.

    See the module description for the similarity. Events are weighed as in
    ``user-personalization``; an event of positive weight makes its user count for its
    item. Training is deterministic: co-occurrence ignores the seed, and ALS uses it.

    Limitation: the service's percentile filters on user history length and item
    popularity (``min_user_history_length_percentile`` and the like) are not applied; every
    selected user and item counts.

    Examples
    --------
    >>> hyperparameters = SimilarItems.validate_hyperparameters({"metadata_weight": "0.5"})
    >>> model = SimilarItems().fit(data, hyperparameters, seed=0)  # doctest: +SKIP
    >>> model.similar_items(0, 3)  # doctest: +SKIP
    (array([2, 1, 7]), array([0.83, 0.61, 0.40]))
    """

    name: ClassVar[str] = "similar-items"
    description: ClassVar[str] = "Item-to-item neighbours from co-occurrence or factors."
    model_class: ClassVar[type[Model]] = SimilarItemsModel
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        Hyperparameter(
            "similarity",
            str,
            "cooccurrence",
            choices=SIMILARITY_SOURCES,
            description="What relates items: co-occurrence counts or learned ALS factors.",
        ),
        Hyperparameter(
            "popularity_discount_factor",
            float,
            0.5,
            0.0,
            1.0,
            description="0 favours popular neighbours, 1 ranks by co-occurrence alone.",
        ),
        Hyperparameter(
            "min_cointeraction_count",
            int,
            3,
            0,
            10,
            description="Fewest users two items must share to be related by co-occurrence.",
        ),
        Hyperparameter(
            "metadata_weight",
            float,
            0.25,
            0.0,
            1.0,
            description="Share of the similarity that comes from the Items metadata.",
        ),
        Hyperparameter("num_neighbours", int, 100, 1, 500, description="Neighbours kept per item."),
        *(_ALS_SPECS[name] for name in _ALS_NAMES),
        MAX_TEXT_FEATURES,
        *EVENT_WEIGHT_HYPERPARAMETERS,
    )

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> SimilarItemsModel:
        """Build the neighbour table and keep the users' weighted histories."""
        start = time.perf_counter()
        weights = self.positive_matrix(data, hyperparameters)
        takers = sp.csr_matrix(weights, dtype=bool).astype(np.float32)
        popularity = np.bincount(takers.indices, minlength=data.num_items).astype(np.float64)

        collaborative = _collaborative(data, takers, popularity, hyperparameters, seed)
        metadata = _metadata_vectors(data, hyperparameters["max_text_features"])
        weight = hyperparameters["metadata_weight"] if metadata is not None else 0.0

        def similarity_rows(items: np.ndarray) -> np.ndarray:
            blended = (1.0 - weight) * collaborative(items)
            if metadata is not None and weight > 0:
                blended += weight * np.maximum((metadata[items] @ metadata.T).toarray(), 0.0)
            return blended

        table = neighbour_table(
            similarity_rows, data.num_items, hyperparameters["num_neighbours"], show_progress
        )
        logger.info(
            "fitted %s (%s, metadata weight %.2f) on %d users x %d items in %.2f s",
            self.name,
            hyperparameters["similarity"],
            weight,
            data.num_users,
            data.num_items,
            time.perf_counter() - start,
        )
        return SimilarItemsModel(
            table.indices,
            table.scores,
            popularity.astype(np.float32),
            weights.indptr,
            weights.indices,
            weights.data,
        )


def _collaborative(
    data: InteractionData,
    takers: sp.csr_matrix,
    popularity: np.ndarray,
    hyperparameters: Mapping[str, Any],
    seed: int,
) -> Any:
    """A function from item indices to their collaborative similarities to every item."""
    discount = hyperparameters["popularity_discount_factor"]
    share = popularity / max(popularity.max(initial=0.0), 1.0)
    if hyperparameters["similarity"] == "factors":
        cosine_rows = _factor_cosines(data, hyperparameters, seed)
        minimum = 0.0
    else:
        cosine_rows = _cooccurrence_cosines(takers, popularity)
        minimum = float(max(1, hyperparameters["min_cointeraction_count"]))

    def similarities(items: np.ndarray) -> np.ndarray:
        cosines, counts = cosine_rows(items)
        related = (cosines > 0) & (counts >= minimum)
        discounted = np.power(np.maximum(cosines, 0.0), discount) * np.power(share, 1.0 - discount)
        return np.where(related, discounted, 0.0)

    return similarities


def _cooccurrence_cosines(takers: sp.csr_matrix, popularity: np.ndarray) -> Any:
    """Item indices to (cosine, co-interaction count) rows over every item."""
    by_item = sp.csr_matrix(takers.T)
    roots = np.sqrt(popularity)

    def rows(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = np.asarray((by_item[items] @ takers).toarray(), dtype=np.float64)
        scale = np.outer(roots[items], roots)
        cosines = np.divide(counts, scale, out=np.zeros_like(counts), where=scale > 0)
        return cosines, counts

    return rows


def _factor_cosines(data: InteractionData, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """Item indices to (cosine of ALS item factors, +inf) rows over every item."""
    als_given = {name: hyperparameters[name] for name in _ALS_NAMES}
    for spec in EVENT_WEIGHT_HYPERPARAMETERS:
        als_given[spec.name] = hyperparameters[spec.name]
    als_hyperparameters = UserPersonalization.validate_hyperparameters(als_given)
    factors = UserPersonalization().fit(data, als_hyperparameters, seed).item_factors
    unit = unit_sparse_rows(sp.csr_matrix(factors)).toarray()

    def rows(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cosines = unit[items] @ unit.T
        return cosines, np.full_like(cosines, np.inf)

    return rows


def _metadata_vectors(data: InteractionData, max_text_features: int) -> sp.csr_matrix | None:
    """Unit-norm featurized Items columns, or ``None`` when there are none."""
    featurized = feature_matrix(data.item_features, data.num_items, max_text_features)
    if featurized.num_features == 0:
        return None
    return unit_sparse_rows(featurized.matrix)
