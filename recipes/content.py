"""Content-based: items as metadata vectors, users as the mean of what they took.

Each item becomes a vector from the Items dataset (see :mod:`recipes.featurize`). A user's
profile is the mean of the vectors of the items they interacted with, each weighted by its
event weight and, when asked, its recency. A score is the cosine similarity of the profile
and the item vector, so an item with no interactions at all scores as well as any other
item with the same metadata.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError
from recipes.als import EVENT_WEIGHT_HYPERPARAMETERS, EventWeightedRecipe
from recipes.base import (
    Hyperparameter,
    InteractionData,
    Model,
    check_history_columns,
    checked_user_indices,
)
from recipes.featurize import MAX_TEXT_FEATURES, feature_matrix

__all__ = ["ContentBased", "ContentModel"]

logger = logging.getLogger(__name__)

NO_ITEM_FEATURES = (
    "content-based needs an Items dataset with at least one categorical, numeric or textual column"
)


class ContentModel(Model):
    """Unit item vectors and user profiles in the same metadata space.

    Parameters
    ----------
    item_vectors : ndarray of shape (num_items, num_features)
        Featurized items, each row scaled to unit L2 norm (an item without metadata is 0).
    user_profiles : ndarray of shape (num_users, num_features)
        Weighted mean item vector of each training user; 0 for a user without events.
    feature_names : ndarray of str, optional
        Name of each feature, kept with the artifact to explain the vectors.
    """

    recipe: ClassVar[str] = "content-based"

    def __init__(
        self,
        item_vectors: np.ndarray,
        user_profiles: np.ndarray,
        feature_names: np.ndarray | None = None,
    ) -> None:
        self.item_vectors = np.asarray(item_vectors, dtype=np.float32)
        self.user_profiles = np.asarray(user_profiles, dtype=np.float32)
        self.feature_names = np.asarray(
            feature_names if feature_names is not None else [], dtype=str
        )

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.item_vectors.shape[0])

    @property
    def num_users(self) -> int:
        """Number of users seen in training."""
        return int(self.user_profiles.shape[0])

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Cosine similarity of training users' profiles to every item, float32.

        Raises
        ------
        InvalidInputError
            An index is not a training user.
        """
        indices = checked_user_indices(user_indices, self.num_users)
        return self._cosine(self.user_profiles[indices])

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores of users given by weighted histories; an empty history scores 0 everywhere.

        Raises
        ------
        InvalidInputError
            The histories do not have one column per item.
        """
        check_history_columns(histories, self.num_items)
        return self._cosine(profiles(sp.csr_matrix(histories), self.item_vectors))

    def arrays(self) -> dict[str, np.ndarray]:
        """``item_vectors``, ``user_profiles`` and ``feature_names``."""
        return {
            "item_vectors": self.item_vectors,
            "user_profiles": self.user_profiles,
            "feature_names": self.feature_names,
        }

    def similarity_vectors(self) -> np.ndarray:
        """The unit metadata vectors: items with alike metadata are alike."""
        return self.item_vectors

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> ContentModel:
        """Rebuild the model from :meth:`arrays`; scoring needs no hyperparameter."""
        return cls(arrays["item_vectors"], arrays["user_profiles"], arrays.get("feature_names"))

    def _cosine(self, user_profiles: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(user_profiles, axis=1, keepdims=True)
        unit = user_profiles / np.where(norms > 0, norms, 1.0)
        return (unit @ self.item_vectors.T).astype(np.float32)


def profiles(weights: sp.csr_matrix, item_vectors: np.ndarray) -> np.ndarray:
    """Weighted mean of ``item_vectors`` per row of ``weights``; 0 for an empty row."""
    totals = np.asarray(weights.sum(axis=1)).ravel()
    summed = np.asarray(weights @ item_vectors, dtype=np.float64)
    safe = np.where(totals != 0, totals, 1.0)
    return (summed / safe[:, np.newaxis]).astype(np.float32)


def unit_rows(matrix: sp.csr_matrix) -> np.ndarray:
    """Dense float32 copy of ``matrix`` with every nonzero row scaled to unit L2 norm."""
    dense = matrix.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return (dense / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class ContentBased(EventWeightedRecipe):
    """Recommend items whose metadata resembles what the user took.

    Items are featurized from the Items dataset: categorical fields one-hot, numeric fields
    standardised, the textual field TF-IDF (at most ``max_text_features`` terms). A user's
    profile is the weighted mean of the vectors of the items they interacted with; events
    are weighed as in ``user-personalization`` (``event_weights``, ``use_event_value``,
    ``recency_half_life_days``). Training is deterministic and ignores the seed.

    Limitation: item vectors are stored dense, so the artifact grows as items × features;
    ``max_text_features`` bounds the textual part.

    Raises
    ------
    InvalidInputError
        On fit, when the data has no usable item metadata.

    Examples
    --------
    >>> hyperparameters = ContentBased.validate_hyperparameters({"recency_half_life_days": 30})
    >>> model = ContentBased().fit(data, hyperparameters, seed=0)  # doctest: +SKIP
    >>> model.score_users(np.array([0])).shape  # doctest: +SKIP
    (1, 500)
    """

    name: ClassVar[str] = "content-based"
    description: ClassVar[str] = "Cosine similarity of item metadata to each user's profile."
    model_class: ClassVar[type[Model]] = ContentModel
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        *EVENT_WEIGHT_HYPERPARAMETERS,
        MAX_TEXT_FEATURES,
    )

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> ContentModel:
        """Featurize the items and average them into user profiles.

        Raises
        ------
        InvalidInputError
            ``data.item_features`` is empty or yields no feature.
        """
        start = time.perf_counter()
        featurized = feature_matrix(
            data.item_features, data.num_items, hyperparameters["max_text_features"]
        )
        if featurized.num_features == 0:
            raise InvalidInputError(NO_ITEM_FEATURES)

        item_vectors = unit_rows(featurized.matrix)
        user_profiles = profiles(
            data.matrix(self.event_weights(data, hyperparameters)), item_vectors
        )
        logger.info(
            "fitted %s on %d users x %d items with %d features in %.2f s",
            self.name,
            data.num_users,
            data.num_items,
            featurized.num_features,
            time.perf_counter() - start,
        )
        return ContentModel(item_vectors, user_profiles, featurized.names)
