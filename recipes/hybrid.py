"""Hybrid: LightFM with identity and metadata features, served with numpy.

Training uses LightFM (Kula, "Metadata Embeddings for User and Item Cold-start
Recommendations", 2015). Each user is the row ``[identity | metadata]`` of a feature matrix,
and so is each item; LightFM learns an embedding and a bias per feature, and a user's (or
an item's) representation is the weighted sum of its features' embeddings. After training
the representations are multiplied out once, so a score is::

    user_embeddings[u] @ item_embeddings.T + item_biases + user_biases[u]

and serving never imports LightFM. The metadata embeddings are kept as well, so that a user
or an item known only by its metadata can be represented from it.

Users without training events
    Their identity embeddings never received a gradient (LightFM samples users only through
    their positives), so they are still LightFM's random initial values. Such a user is
    represented by its metadata part alone.

Items without training interactions
    Their identity embeddings and biases received only negative updates (WARP and BPR draw
    negatives uniformly from the catalogue), which pushes them below items of the same
    metadata. Such an item is represented by its metadata part alone too, so that a new item
    scores as its metadata says; on the bundled data's held-out new items this raises
    NDCG@10 from 0.32 to 0.42 (see :mod:`engine.protocols`). Known items score exactly as
    ``LightFM.predict`` scores them.

Users known only by a history (held-out users, new users)
    The representation is the user's metadata part (when the caller says which user it is)
    plus a fold-in of the history that stands in for the identity embedding: the weighted
    mean of the history's item embeddings minus the mean item embedding. That difference is
    the direction of the first gradient step of the BPR objective, taken from a zero vector
    with negatives drawn uniformly from the catalogue. Its length is set to the median norm
    of the identity embeddings of the users seen in training, so that history and metadata
    weigh as they do for those users.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from engine.errors import InvalidInputError
from recipes.als import EVENT_WEIGHT_HYPERPARAMETERS, EventWeightedRecipe
from recipes.base import (
    Hyperparameter,
    InteractionData,
    Model,
    check_history_columns,
    check_stop,
    checked_user_indices,
)
from recipes.content import profiles
from recipes.featurize import MAX_TEXT_FEATURES, FeatureMatrix, feature_matrix

__all__ = ["Hybrid", "HybridModel"]

logger = logging.getLogger(__name__)

LOSSES = ("warp", "bpr", "logistic")


@dataclass(frozen=True)
class _Side:
    """The learned arrays of the users or of the items."""

    embeddings: np.ndarray
    biases: np.ndarray
    metadata_embeddings: np.ndarray
    metadata_biases: np.ndarray
    feature_embeddings: np.ndarray
    feature_biases: np.ndarray
    feature_names: np.ndarray
    identity_norm: float


class HybridModel(Model):
    """User and item representations multiplied out of LightFM's feature embeddings.

    Parameters
    ----------
    user_embeddings, item_embeddings : ndarray of shape (rows, no_components)
        Representation of each user and each item, float32.
    user_biases, item_biases : ndarray of shape (rows,)
        Bias of each user and each item, float32.
    user_metadata_embeddings : ndarray of shape (num_users, no_components)
        Each user's representation from metadata alone (0 without user features).
    user_metadata_biases : ndarray of shape (num_users,)
        Each user's bias from metadata alone.
    user_identity_norm : float
        Median norm of the identity embeddings of users seen in training; the length of a
        history fold-in.
    item_feature_embeddings, user_feature_embeddings : ndarray, optional
        Embedding of each metadata feature, to represent new rows from metadata alone.
    item_feature_biases, user_feature_biases : ndarray, optional
        Bias of each metadata feature.
    item_feature_names, user_feature_names : ndarray of str, optional
        Name of each metadata feature (see :class:`recipes.featurize.FeatureMatrix`).
    """

    recipe: ClassVar[str] = "hybrid"

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.user_embeddings = np.asarray(arrays["user_embeddings"], np.float32)
        self.user_biases = np.asarray(arrays["user_biases"], np.float32)
        self.item_embeddings = np.asarray(arrays["item_embeddings"], np.float32)
        self.item_biases = np.asarray(arrays["item_biases"], np.float32)
        self.user_metadata_embeddings = np.asarray(arrays["user_metadata_embeddings"], np.float32)
        self.user_metadata_biases = np.asarray(arrays["user_metadata_biases"], np.float32)
        self.user_identity_norm = np.asarray(arrays["user_identity_norm"], np.float32)
        self._metadata = {
            name: np.asarray(arrays[name]) for name in _METADATA_ARRAYS if name in arrays
        }

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.item_embeddings.shape[0])

    @property
    def num_users(self) -> int:
        """Number of users the model has a row for."""
        return int(self.user_embeddings.shape[0])

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of known users, shape ``(len(user_indices), num_items)``, float32.

        A user without training events is scored from its metadata alone.

        Raises
        ------
        InvalidInputError
            An index is outside the model's users.
        """
        indices = self._checked_users(user_indices)
        return self._score(self.user_embeddings[indices], self.user_biases[indices])

    def score_histories(
        self, histories: sp.csr_matrix, user_indices: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores of users given by weighted histories, folded in as the module describes.

        Parameters
        ----------
        histories : sparse matrix of shape (rows, num_items)
            Summed event weights per item.
        user_indices : ndarray of shape (rows,), optional
            Which user each row is, to add its metadata representation; without it the
            history alone represents the user.

        Returns
        -------
        ndarray of shape (rows, num_items)
            float32 scores; an empty history without metadata scores the item biases.

        Raises
        ------
        InvalidInputError
            Histories without one column per item, or ``user_indices`` of another length.
        """
        matrix = self._checked_histories(histories)
        representation = self._fold_in(matrix)
        biases = np.zeros(matrix.shape[0], np.float32)
        if user_indices is not None:
            indices = self._checked_users(user_indices)
            if indices.size != matrix.shape[0]:
                raise InvalidInputError(
                    f"{indices.size} user indices given for {matrix.shape[0]} history rows"
                )
            representation += self.user_metadata_embeddings[indices]
            biases = self.user_metadata_biases[indices]
        return self._score(representation, biases)

    def score_new_users(self, histories: sp.csr_matrix, user_indices: np.ndarray) -> np.ndarray:
        """Scores from each user's metadata representation plus the fold-in of the history."""
        return self.score_histories(histories, user_indices)

    def item_representations(self, metadata: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and biases of items known only by metadata.

        ``metadata`` has one column per ``item_feature_names`` entry, featurized as in
        training; the result can be appended to ``item_embeddings`` and ``item_biases``.
        """
        embeddings = self._metadata.get("item_feature_embeddings")
        biases = self._metadata.get("item_feature_biases")
        if embeddings is None or biases is None or metadata.shape[1] != embeddings.shape[0]:
            raise InvalidInputError(
                f"item metadata has {metadata.shape[1]} columns; the model has "
                f"{0 if embeddings is None else embeddings.shape[0]} item features"
            )
        return np.asarray(metadata @ embeddings, np.float32), np.asarray(
            metadata @ biases, np.float32
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Representations and biases, metadata-only parts, and the feature embeddings."""
        return {
            "user_embeddings": self.user_embeddings,
            "user_biases": self.user_biases,
            "item_embeddings": self.item_embeddings,
            "item_biases": self.item_biases,
            "user_metadata_embeddings": self.user_metadata_embeddings,
            "user_metadata_biases": self.user_metadata_biases,
            "user_identity_norm": self.user_identity_norm,
            **self._metadata,
        }

    def similarity_vectors(self) -> np.ndarray:
        """The item embeddings: items whose embeddings point the same way are alike."""
        return self.item_embeddings

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> HybridModel:
        """Rebuild the model from :meth:`arrays`; scoring needs no hyperparameter."""
        return cls(arrays)

    def _score(self, representation: np.ndarray, biases: np.ndarray) -> np.ndarray:
        # In place: one float32 array of scores, no temporaries of the same size.
        scores = np.asarray(representation, np.float32) @ self.item_embeddings.T
        scores += self.item_biases
        scores += np.asarray(biases, np.float32)[:, np.newaxis]
        return scores

    def _fold_in(self, histories: sp.csr_matrix) -> np.ndarray:
        direction = profiles(histories, self.item_embeddings) - self.item_embeddings.mean(axis=0)
        direction[np.diff(histories.indptr) == 0] = 0.0

        norms = np.linalg.norm(direction, axis=1, keepdims=True)
        scale = float(self.user_identity_norm[0]) / np.where(norms > 0, norms, 1.0)
        return (direction * scale).astype(np.float32)

    def _checked_users(self, user_indices: np.ndarray) -> np.ndarray:
        indices = checked_user_indices(user_indices, self.num_users)
        return indices

    def _checked_histories(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        check_history_columns(histories, self.num_items)
        matrix = sp.csr_matrix(histories, dtype=np.float32, copy=True)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return matrix


_METADATA_ARRAYS = (
    "item_feature_embeddings",
    "item_feature_biases",
    "item_feature_names",
    "user_feature_embeddings",
    "user_feature_biases",
    "user_feature_names",
)


class Hybrid(EventWeightedRecipe):
    """LightFM with user and item metadata, the recipe for cold users and cold items.

    Each user is its identity feature plus, with ``use_user_features``, its Users columns;
    each item likewise with ``use_item_features`` and its Items columns (featurized by
    :mod:`recipes.featurize`). Events are weighed as in ``user-personalization`` and the
    weights are LightFM's sample weights. Training is deterministic for a seed: LightFM
    draws from ``random_state=seed`` and runs on one thread.

    Limitation: only positive weights count as interactions; LightFM's ``logistic`` loss
    therefore sees no negative labels and mostly learns popularity.

    Examples
    --------
    >>> hyperparameters = Hybrid.validate_hyperparameters({"loss": "bpr", "epochs": "10"})
    >>> model = Hybrid().fit(data, hyperparameters, seed=7)  # doctest: +SKIP
    >>> model.score_users(np.array([0])).shape  # doctest: +SKIP
    (1, 500)
    """

    name: ClassVar[str] = "hybrid"
    description: ClassVar[str] = "LightFM on identity and metadata features; numpy serving."
    model_class: ClassVar[type[Model]] = HybridModel
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        Hyperparameter("loss", str, "warp", choices=LOSSES, description="LightFM loss."),
        Hyperparameter(
            "no_components", int, 32, 1, 1024, description="Embedding size per feature."
        ),
        Hyperparameter("learning_rate", float, 0.05, 1e-6, 10.0, description="Adagrad rate."),
        Hyperparameter("epochs", int, 30, 1, 1000, description="Passes over the interactions."),
        Hyperparameter(
            "item_alpha", float, 0.0, 0.0, 10.0, description="L2 penalty on item features."
        ),
        Hyperparameter(
            "user_alpha", float, 0.0, 0.0, 10.0, description="L2 penalty on user features."
        ),
        Hyperparameter(
            "max_sampled", int, 10, 1, 10000, description="Negatives WARP draws per positive."
        ),
        Hyperparameter(
            "use_user_features", bool, True, description="Add the Users columns as features."
        ),
        Hyperparameter(
            "use_item_features", bool, True, description="Add the Items columns as features."
        ),
        MAX_TEXT_FEATURES,
        *EVENT_WEIGHT_HYPERPARAMETERS,
    )

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> HybridModel:
        """Train LightFM and multiply out the representations; identical for equal seeds."""
        start = time.perf_counter()
        weights = self.positive_matrix(data, hyperparameters)

        users = _metadata(data, "user", hyperparameters)
        items = _metadata(data, "item", hyperparameters)
        lightfm = _train(weights, users, items, hyperparameters, seed, show_progress)

        warm_users = np.diff(weights.indptr) > 0
        warm_items = np.diff(weights.tocsc().indptr) > 0
        user_side = _extract(lightfm.user_embeddings, lightfm.user_biases, users, warm_users)
        item_side = _extract(lightfm.item_embeddings, lightfm.item_biases, items, warm_items)
        logger.info(
            "fitted %s on %d users x %d items (%d pairs, %d user and %d item features) in %.2f s",
            self.name,
            data.num_users,
            data.num_items,
            weights.nnz,
            users.num_features,
            items.num_features,
            time.perf_counter() - start,
        )
        return HybridModel(_model_arrays(user_side, item_side))


def _metadata(
    data: InteractionData, side: str, hyperparameters: Mapping[str, Any]
) -> FeatureMatrix:
    """The metadata block of users or items, empty when switched off."""
    num_rows = data.num_users if side == "user" else data.num_items
    features = data.user_features if side == "user" else data.item_features
    if not hyperparameters[f"use_{side}_features"]:
        features = type(features)()
    return feature_matrix(features, num_rows, hyperparameters["max_text_features"])


def _with_identity(metadata: FeatureMatrix) -> sp.csr_matrix:
    """LightFM's feature matrix: identity columns, then the metadata columns."""
    identity = sp.identity(metadata.matrix.shape[0], dtype=np.float32, format="csr")
    return sp.hstack([identity, metadata.matrix], format="csr", dtype=np.float32)


def _train(
    weights: sp.csr_matrix,
    users: FeatureMatrix,
    items: FeatureMatrix,
    hyperparameters: Mapping[str, Any],
    seed: int,
    show_progress: bool,
) -> Any:
    """Fit LightFM on one thread and return it."""
    with warnings.catch_warnings():
        # LightFM warns at import when it was built without OpenMP; one thread is used anyway.
        warnings.filterwarnings("ignore", message=".*OpenMP.*", category=UserWarning)
        from lightfm import LightFM

    coordinates = weights.tocoo()
    positives = sp.coo_matrix(
        (np.ones(coordinates.nnz, np.float32), (coordinates.row, coordinates.col)),
        shape=weights.shape,
    )
    lightfm = LightFM(
        no_components=hyperparameters["no_components"],
        loss=hyperparameters["loss"],
        learning_rate=hyperparameters["learning_rate"],
        item_alpha=hyperparameters["item_alpha"],
        user_alpha=hyperparameters["user_alpha"],
        max_sampled=hyperparameters["max_sampled"],
        random_state=seed,
    )
    user_features, item_features = _with_identity(users), _with_identity(items)
    sample_weight = coordinates.astype(np.float32)
    # One epoch a call, so that a stop of the training takes effect between epochs: the same
    # model as one fit over every epoch, as LightFM draws each epoch's order from its seed.
    epochs = range(hyperparameters["epochs"])
    for _ in tqdm(epochs, desc="Epoch", unit="epoch") if show_progress else epochs:
        check_stop()
        lightfm.fit_partial(
            positives,
            user_features=user_features,
            item_features=item_features,
            sample_weight=sample_weight,
            epochs=1,
            num_threads=1,
        )
    return lightfm


def _extract(
    embeddings: np.ndarray, biases: np.ndarray, metadata: FeatureMatrix, warm: np.ndarray
) -> _Side:
    """Multiply out each row's representation; a cold row uses its metadata part alone."""
    num_rows = metadata.matrix.shape[0]
    full = _with_identity(metadata)
    feature_embeddings = np.asarray(embeddings[num_rows:], np.float32)
    feature_biases = np.asarray(biases[num_rows:], np.float32)

    metadata_embeddings = np.asarray(metadata.matrix @ feature_embeddings, np.float32)
    metadata_biases = np.asarray(metadata.matrix @ feature_biases, np.float32)
    return _Side(
        embeddings=np.where(warm[:, np.newaxis], full @ embeddings, metadata_embeddings),
        biases=np.where(warm, full @ biases, metadata_biases),
        metadata_embeddings=metadata_embeddings,
        metadata_biases=metadata_biases,
        feature_embeddings=feature_embeddings,
        feature_biases=feature_biases,
        feature_names=metadata.names,
        identity_norm=_median_norm(embeddings[:num_rows][warm]),
    )


def _median_norm(vectors: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(vectors, axis=1))) if vectors.size else 0.0


def _model_arrays(user_side: _Side, item_side: _Side) -> dict[str, np.ndarray]:
    return {
        "user_embeddings": user_side.embeddings,
        "user_biases": user_side.biases,
        "item_embeddings": item_side.embeddings,
        "item_biases": item_side.biases,
        "user_metadata_embeddings": user_side.metadata_embeddings,
        "user_metadata_biases": user_side.metadata_biases,
        "user_identity_norm": np.array([user_side.identity_norm], np.float32),
        "item_feature_embeddings": item_side.feature_embeddings,
        "item_feature_biases": item_side.feature_biases,
        "item_feature_names": item_side.feature_names,
        "user_feature_embeddings": user_side.feature_embeddings,
        "user_feature_biases": user_side.feature_biases,
        "user_feature_names": user_side.feature_names,
    }
