"""User-Personalization: alternating least squares on implicit feedback.

Training uses ``implicit``'s CPU ALS (Hu, Koren and Volinsky, "Collaborative Filtering for
Implicit Feedback Datasets", 2008). Scoring needs numpy alone: a known user is the product of
its factors with the item factors, and a user known only by a history at request time is
folded in by solving the same least-squares problem ``implicit`` solves for a user.

Confidence follows implicit 0.7: an observed user–item pair has confidence
``alpha * weight``, where ``weight`` is the pair's summed event weight; an unobserved pair
has confidence 1 and preference 0. There is no ``1 +`` as in the paper, so with unit weights
``alpha`` must be above 1 for observed pairs to count more than unobserved ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from engine.errors import InvalidInputError
from recipes.base import (
    Hyperparameter,
    InteractionData,
    Model,
    Recipe,
    Refresh,
    check_history_columns,
    check_stop,
    checked_user_indices,
)
from recipes.recency import RECENCY_HYPERPARAMETER, recency_weights

__all__ = [
    "ALSModel",
    "EventWeightedRecipe",
    "UserPersonalization",
    "parse_event_weights",
    "recency_weights",
    "regularized_gramian",
    "solve_factors",
    "weigh_events",
]

logger = logging.getLogger(__name__)

# Bytes of stacked normal equations solved at once when folding in histories.
_FOLD_IN_BATCH_BYTES = 64 * 2**20

_EVENT_WEIGHTS_FORMAT = 'a comma-separated list of name=weight, such as "watch=1.0,click=0.25"'
# The hyperparameters of every recipe that weighs events by ``weigh_events``.
EVENT_WEIGHT_HYPERPARAMETERS = (
    Hyperparameter(
        "event_weights",
        str,
        "",
        description=f"Weight per event type, {_EVENT_WEIGHTS_FORMAT}; unlisted types weigh 1.",
    ),
    Hyperparameter(
        "use_event_value",
        bool,
        False,
        description="Multiply each event's weight by its EVENT_VALUE where it has one.",
    ),
    RECENCY_HYPERPARAMETER,
)


class EventWeightedRecipe(Recipe):
    """A recipe whose events weigh as :func:`weigh_events` says.

    It declares :data:`EVENT_WEIGHT_HYPERPARAMETERS` among its own and checks
    ``event_weights`` when the hyperparameters are validated.
    """

    @classmethod
    def validate_hyperparameters(cls, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate as :class:`~recipes.base.Recipe` does, and parse ``event_weights`` too."""
        validated = super().validate_hyperparameters(values)
        parse_event_weights(validated["event_weights"])
        return validated

    def event_weights(
        self, data: InteractionData, hyperparameters: Mapping[str, Any]
    ) -> np.ndarray:
        """Weight per event, as :func:`weigh_events` gives it."""
        return weigh_events(data, hyperparameters)


class ALSModel(Model):
    """User and item factors; a score is their dot product.

    Parameters
    ----------
    user_factors : ndarray of shape (num_users, factors)
        Learned user factors, float32.
    item_factors : ndarray of shape (num_items, factors)
        Learned item factors, float32.
    regularization, alpha : float
        The hyperparameters the factors were trained with; folding in a history needs them.
    """

    recipe: ClassVar[str] = "user-personalization"

    def __init__(
        self,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        regularization: float,
        alpha: float,
    ) -> None:
        self.user_factors = np.asarray(user_factors, dtype=np.float32)
        self.item_factors = np.asarray(item_factors, dtype=np.float32)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self._gramian: np.ndarray | None = None

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.item_factors.shape[0])

    @property
    def num_users(self) -> int:
        """Number of users seen in training."""
        return int(self.user_factors.shape[0])

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of training users, shape ``(len(user_indices), num_items)``, float32.

        Raises
        ------
        InvalidInputError
            An index is not a training user.
        """
        indices = checked_user_indices(user_indices, self.num_users)
        return self.user_factors[indices] @ self.item_factors.T

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores of users given by weighted histories: fold each in, then score it.

        Parameters
        ----------
        histories : sparse matrix of shape (rows, num_items)
            Summed event weights per item, built with the recipe's ``event_weights``.

        Returns
        -------
        ndarray of shape (rows, num_items)
            float32 scores; a row with no history scores 0 everywhere.
        """
        return self.fold_in(histories) @ self.item_factors.T

    def fold_in(self, histories: sp.csr_matrix) -> np.ndarray:
        """User factors for each history row, as ``implicit``'s ``recalculate_user`` finds them.

        Each row solves ``(YᵀY + Yᵀ(C - I)Y + λI) x = YᵀCp`` exactly, where ``Y`` holds the item
        factors, ``C`` the confidences ``alpha * weight`` and ``p`` the preferences (1 where
        the weight is positive). A zero weight counts as no event, as in training.

        Raises
        ------
        InvalidInputError
            The histories do not have one column per item.
        """
        matrix = self._checked_histories(histories)
        return solve_factors(matrix, self.item_factors, self.alpha, self._regularized_gramian())

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays, ``user_factors`` and ``item_factors``."""
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def similarity_vectors(self) -> np.ndarray:
        """The item factors: items whose factors point the same way are alike."""
        return self.item_factors

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> ALSModel:
        """Rebuild the model from :meth:`arrays` and its ``regularization`` and ``alpha``."""
        return cls(
            arrays["user_factors"],
            arrays["item_factors"],
            regularization=hyperparameters["regularization"],
            alpha=hyperparameters["alpha"],
        )

    def _checked_histories(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        check_history_columns(histories, self.num_items)
        matrix = sp.csr_matrix(histories, dtype=np.float64, copy=True)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return matrix

    def _regularized_gramian(self) -> np.ndarray:
        if self._gramian is None:
            self._gramian = regularized_gramian(self.item_factors, self.regularization)
        return self._gramian


def regularized_gramian(fixed: np.ndarray, regularization: float) -> np.ndarray:
    """``YᵀY + λI`` in float64 for the fixed side's factors ``Y``."""
    factors = np.asarray(fixed, dtype=np.float64)
    return factors.T @ factors + regularization * np.eye(factors.shape[1])


def solve_factors(
    histories: sp.csr_matrix, fixed: np.ndarray, alpha: float, gramian: np.ndarray
) -> np.ndarray:
    """One ALS half-step for the rows of ``histories``, the other side's factors held fixed.

    For users ``fixed`` holds the item factors and ``histories`` the users' weighted rows;
    for items it is the other way round. ``gramian`` is :func:`regularized_gramian` of
    ``fixed``. Returns float32 factors, one row per history row.
    """
    rows, factors = histories.shape[0], fixed.shape[1]
    batch = max(1, _FOLD_IN_BATCH_BYTES // (8 * factors * factors))
    if rows <= batch:
        return _solve_rows(histories, fixed, alpha, gramian).astype(np.float32)
    solved = np.empty((rows, factors), dtype=np.float32)
    for start in range(0, rows, batch):
        stop = min(rows, start + batch)
        solved[start:stop] = _solve_rows(histories[start:stop], fixed, alpha, gramian)
    return solved


def _solve_rows(
    histories: sp.csr_matrix, fixed: np.ndarray, alpha: float, gramian: np.ndarray
) -> np.ndarray:
    systems = np.repeat(gramian[np.newaxis], histories.shape[0], axis=0)
    targets = np.zeros((histories.shape[0], gramian.shape[0]))

    # Add each row's observed entries: Yᵤᵀ(Cᵤ - I)Yᵤ to the system, YᵤᵀCᵤpᵤ to the target.
    for row in range(histories.shape[0]):
        span = slice(histories.indptr[row], histories.indptr[row + 1])
        observed = fixed[histories.indices[span]].astype(np.float64)
        confidence = alpha * histories.data[span]
        systems[row] += (observed * (np.abs(confidence) - 1)[:, np.newaxis]).T @ observed
        targets[row] = observed.T @ np.maximum(confidence, 0.0)
    return _solve(systems, targets)


def _carried(factors: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rows of ``factors`` at ``known``, zeros where ``known`` is -1 (float32)."""
    carried = np.zeros((known.size, factors.shape[1]), dtype=np.float32)
    mask = known >= 0
    carried[mask] = factors[known[mask]]
    return carried


def _solve(systems: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Solve a stack of square systems; a singular one (no regularization) by least squares."""
    try:
        return np.linalg.solve(systems, targets[..., np.newaxis])[..., 0]
    except np.linalg.LinAlgError:
        logger.debug("singular fold-in system; solving by pseudo-inverse")
        return (np.linalg.pinv(systems) @ targets[..., np.newaxis])[..., 0]


class UserPersonalization(EventWeightedRecipe):
    """Implicit-feedback ALS, the counterpart of the service's ``aws-user-personalization``.

    Each event adds a weight to its user × item pair (see :func:`weigh_events`): the weight
    of its event type from ``event_weights`` (1 when unlisted), times its EVENT_VALUE when
    ``use_event_value`` is set and the event has one. A pair's confidence is ``alpha`` times
    its summed weight.

    Training is deterministic for a seed: ``implicit`` solves each user (and each item)
    independently, so its thread count does not change the result, and BLAS is held to one
    thread while fitting.

    With ``recency_half_life_days`` set, an event's weight also halves for every half-life
    it is older than the newest event in the data.

    Limitation: bandit-style exploration of new items, which the service adds, is not modelled.

    Examples
    --------
    >>> hyperparameters = UserPersonalization.validate_hyperparameters(
    ...     {"factors": "32", "event_weights": "watch=1.0,click=0.25"}
    ... )
    >>> model = UserPersonalization().fit(data, hyperparameters, seed=7)  # doctest: +SKIP
    >>> model.score_users(np.array([0, 1])).shape  # doctest: +SKIP
    (2, 500)
    """

    name: ClassVar[str] = "user-personalization"
    description: ClassVar[str] = "Implicit-feedback ALS with fold-in of new users' histories."
    model_class: ClassVar[type[Model]] = ALSModel
    supports_update: ClassVar[bool] = True
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        Hyperparameter(
            "factors", int, 64, 1, 1024, description="Latent factors per user and per item."
        ),
        Hyperparameter(
            "regularization", float, 0.01, 0.0, 1000.0, description="L2 penalty on the factors."
        ),
        Hyperparameter("iterations", int, 15, 1, 500, description="Alternating sweeps."),
        Hyperparameter(
            "alpha",
            float,
            10.0,
            0.0,
            10000.0,
            description="Confidence per unit of weight of an observed pair (implicit's alpha).",
        ),
        *EVENT_WEIGHT_HYPERPARAMETERS,
        Hyperparameter(
            "calculate_training_loss",
            bool,
            False,
            description="Compute and log the training loss after each iteration.",
        ),
    )

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> ALSModel:
        """Train ALS on the weighted user × item matrix; identical factors for equal seeds."""
        start = time.perf_counter()
        matrix = data.matrix(self.event_weights(data, hyperparameters))
        matrix.eliminate_zeros()

        user_factors, item_factors = _train(matrix, hyperparameters, seed, show_progress)
        logger.info(
            "fitted %s on %d users x %d items (%d pairs) with %d factors in %.2f s",
            self.name,
            data.num_users,
            data.num_items,
            matrix.nnz,
            hyperparameters["factors"],
            time.perf_counter() - start,
        )
        return ALSModel(
            user_factors,
            item_factors,
            regularization=hyperparameters["regularization"],
            alpha=hyperparameters["alpha"],
        )

    def update(
        self, refresh: Refresh, data: InteractionData, hyperparameters: Mapping[str, Any]
    ) -> ALSModel:
        """Refresh a FULL version's factors with the current data, without refitting.

        Known users and items keep their factors. A new item's factors are solved from the
        users who took it, a new or changed user's from their whole history, then the new
        items once more with those users in: three ALS half-steps on those rows only.
        """
        base = refresh.model
        if not isinstance(base, ALSModel):
            raise InvalidInputError(f"an UPDATE of {self.name!r} needs an ALS model to refresh")
        matrix = data.matrix(self.event_weights(data, hyperparameters)).astype(np.float64)
        matrix.eliminate_zeros()
        by_item = matrix.T.tocsr()
        regularization, alpha = hyperparameters["regularization"], hyperparameters["alpha"]

        users = _carried(base.user_factors, refresh.known_users)
        items = _carried(base.item_factors, refresh.known_items)
        new_items = np.flatnonzero(refresh.known_items < 0)
        changed = np.flatnonzero(refresh.changed_users)

        def half_step(rows: sp.csr_matrix, fixed: np.ndarray) -> np.ndarray:
            gramian = regularized_gramian(fixed, regularization)
            return solve_factors(rows, fixed, alpha, gramian)

        items[new_items] = half_step(by_item[new_items], users)
        users[changed] = half_step(matrix[changed], items)
        items[new_items] = half_step(by_item[new_items], users)
        logger.info(
            "updated %s: %d new items, %d new or changed users of %d",
            self.name,
            new_items.size,
            changed.size,
            data.num_users,
        )
        return ALSModel(users, items, regularization=regularization, alpha=alpha)


def weigh_events(data: InteractionData, hyperparameters: Mapping[str, Any]) -> np.ndarray:
    """Weight of each event: its type's weight, its value, its recency (float32).

    The weight of the event's type in ``event_weights`` (1 when unlisted), times its
    EVENT_VALUE when ``use_event_value`` is set (a missing value counts 1), times
    :func:`recency_weights` when ``recency_half_life_days`` is positive.

    Examples
    --------
    >>> weigh_events(data, {"event_weights": "click=0.25", "use_event_value": False,
    ...                     "recency_half_life_days": 0.0})  # doctest: +SKIP
    array([1.  , 0.25], dtype=float32)
    """
    by_name = parse_event_weights(hyperparameters["event_weights"])
    per_type = np.array([by_name.get(name, 1.0) for name in data.event_type_names])
    weights = per_type[data.event_types]

    if hyperparameters["use_event_value"]:
        values = data.event_values.astype(np.float64)
        weights = weights * np.where(np.isnan(values), 1.0, values)
    half_life = hyperparameters.get("recency_half_life_days", 0.0)
    if half_life > 0:
        weights = weights * recency_weights(data.timestamps, half_life)
    return weights.astype(np.float32)


def parse_event_weights(text: str) -> dict[str, float]:
    """Parse ``"watch=1.0,click=0.25"`` into ``{"watch": 1.0, "click": 0.25}``.

    Raises
    ------
    InvalidInputError
        A piece is not ``name=number``, a weight is not finite, or a name repeats.
    """
    weights: dict[str, float] = {}
    for piece in filter(None, (part.strip() for part in text.split(","))):
        name, separator, number = (part.strip() for part in piece.partition("="))
        weight = _parse_weight(number) if separator and name else None
        if weight is None:
            raise InvalidInputError(
                f"hyperparameter 'event_weights' must be {_EVENT_WEIGHTS_FORMAT}; "
                f"got {piece!r} in {text!r}"
            )
        if name in weights:
            raise InvalidInputError(
                f"hyperparameter 'event_weights' names event type {name!r} twice in {text!r}"
            )
        weights[name] = weight
    return weights


def _parse_weight(number: str) -> float | None:
    try:
        weight = float(number)
    except ValueError:
        return None
    return weight if np.isfinite(weight) else None


def _between_iterations(iteration: int, elapsed: float, loss: float) -> None:
    """implicit's per-iteration callback: where a stop of the training takes effect."""
    check_stop()


def _train(
    matrix: sp.csr_matrix, hyperparameters: Mapping[str, Any], seed: int, show_progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``implicit``'s CPU ALS and return its user and item factors."""
    from implicit.cpu.als import AlternatingLeastSquares

    # implicit loads its own BLAS when imported, so the limit must come after the import.
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=hyperparameters["factors"],
            regularization=hyperparameters["regularization"],
            alpha=hyperparameters["alpha"],
            iterations=hyperparameters["iterations"],
            calculate_training_loss=hyperparameters["calculate_training_loss"],
            dtype=np.float32,
            num_threads=0,
            random_state=seed,
        )
        als.fit(matrix, show_progress=show_progress, callback=_between_iterations)
    return als.user_factors, als.item_factors
