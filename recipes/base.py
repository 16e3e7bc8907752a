"""The contract every recipe implements.

A recipe receives arrays and returns arrays: it never reads the store and never knows about
campaigns. Training hands it an :class:`InteractionData` (one row per selected event, already
coded to dense user and item indices); it returns a :class:`Model` whose learned arrays are
saved as ``.npy`` files and which scores with numpy alone, so serving never needs the library
that trained it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError, InvalidStateError
from recipes.similarity import cosine_neighbours

__all__ = [
    "FeatureColumn",
    "Features",
    "Hyperparameter",
    "InteractionData",
    "Model",
    "Recipe",
    "Refresh",
    "check_history_columns",
    "check_stop",
    "checked_user_indices",
    "stop_checks",
]

_STOP_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("stop_check", default=None)


def check_stop() -> None:
    """Let the training that runs this fit stop here, if it was asked to.

    Recipes call it between iterations or epochs of a long fit. Outside a training (a fit
    called directly) it does nothing; inside one it calls the check that
    :func:`stop_checks` installed, which raises to end the fit.
    """
    check = _STOP_CHECK.get()
    if check is not None:
        check()


@contextmanager
def stop_checks(check: Callable[[], None]) -> Iterator[None]:
    """Make :func:`check_stop` call ``check`` in this thread until the block ends.

    Parameters
    ----------
    check : callable
        Raises when the training should stop (see ``engine.lifecycle.VersionRun``).
    """
    token = _STOP_CHECK.set(check)
    try:
        yield
    finally:
        _STOP_CHECK.reset(token)


@dataclass(frozen=True)
class FeatureColumn:
    """One metadata column of the Users or Items dataset, aligned to dense indices.

    ``kind`` is ``"categorical"`` (strings, several values joined by ``|``, ``None`` when
    missing), ``"numeric"`` (float64, NaN when missing) or ``"textual"`` (strings or ``None``).
    """

    name: str
    kind: str
    values: np.ndarray

    def categories(self) -> list[list[str]]:
        """Each row's categorical values, split on ``|``; empty when missing."""
        return [[] if value is None else str(value).split("|") for value in self.values]


@dataclass(frozen=True)
class Features:
    """The metadata columns a solution trains on, one row per user or per item."""

    columns: tuple[FeatureColumn, ...] = ()

    def __len__(self) -> int:
        return len(self.columns)

    def of_kind(self, kind: str) -> tuple[FeatureColumn, ...]:
        """The columns of one kind, in schema order."""
        return tuple(column for column in self.columns if column.kind == kind)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in schema order."""
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class InteractionData:
    """Selected interactions, one entry per event, coded to dense indices.

    Attributes
    ----------
    user_indices, item_indices : int32 arrays
        Dense codes in ``[0, num_users)`` and ``[0, num_items)``.
    timestamps : int64 array
        Epoch seconds.
    event_types : int32 array
        Index into ``event_type_names``; all zeros when the dataset has no EVENT_TYPE.
    event_values : float32 array
        EVENT_VALUE, NaN where the dataset has none.
    user_features, item_features : Features
        The metadata columns the solution selected; empty when there are none.
    """

    user_indices: np.ndarray
    item_indices: np.ndarray
    timestamps: np.ndarray
    event_types: np.ndarray
    event_values: np.ndarray
    num_users: int
    num_items: int
    event_type_names: tuple[str, ...] = ("",)
    user_features: Features = field(default_factory=Features)
    item_features: Features = field(default_factory=Features)

    def __len__(self) -> int:
        return int(self.user_indices.shape[0])

    def subset(self, mask: np.ndarray, num_users: int | None = None) -> InteractionData:
        """Return the events where ``mask`` holds; optionally with another user count."""
        return InteractionData(
            user_indices=self.user_indices[mask],
            item_indices=self.item_indices[mask],
            timestamps=self.timestamps[mask],
            event_types=self.event_types[mask],
            event_values=self.event_values[mask],
            num_users=self.num_users if num_users is None else num_users,
            num_items=self.num_items,
            event_type_names=self.event_type_names,
            user_features=self.user_features,
            item_features=self.item_features,
        )

    def matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Users × items CSR matrix of summed ``weights`` (ones when not given), float32."""
        values = np.ones(len(self), np.float32) if weights is None else weights.astype(np.float32)
        shape = (self.num_users, self.num_items)
        matrix = sp.csr_matrix((values, (self.user_indices, self.item_indices)), shape=shape)
        matrix.sum_duplicates()
        return matrix


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its type, default and allowed range or choices."""

    name: str
    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    description: str = ""

    def convert(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string, as the service passes them) and check it."""
        try:
            converted = _convert(self.kind, value)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"hyperparameter {self.name!r} must be {self.kind.__name__}, got {value!r}"
            ) from None
        self._check_range(converted)
        return converted

    def _check_range(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            allowed = ", ".join(map(repr, self.choices))
            raise InvalidInputError(
                f"hyperparameter {self.name!r} must be one of {allowed}, got {value!r}"
            )
        low = -np.inf if self.minimum is None else self.minimum
        high = np.inf if self.maximum is None else self.maximum
        if self.kind in (int, float) and not low <= value <= high:
            raise InvalidInputError(
                f"hyperparameter {self.name!r} must be in [{self.minimum}, {self.maximum}], "
                f"got {value!r}"
            )


def _convert(kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise ValueError(value)
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if isinstance(value, bool):
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    return kind(value)


def checked_user_indices(user_indices: np.ndarray, num_users: int) -> np.ndarray:
    """``user_indices`` as int64, refused if one is not in ``[0, num_users)``.

    Raises
    ------
    InvalidInputError
        Naming the first index out of range.
    """
    indices = np.asarray(user_indices, dtype=np.int64)
    outside = indices[(indices < 0) | (indices >= num_users)]
    if outside.size:
        raise InvalidInputError(
            f"user index {int(outside[0])} is out of range: the model has {num_users} users"
        )
    return indices


def check_history_columns(histories: sp.spmatrix, num_items: int) -> None:
    """Refuse histories that do not have one column per item of the model.

    Raises
    ------
    InvalidInputError
        Naming both counts.
    """
    if histories.shape[1] != num_items:
        raise InvalidInputError(
            f"histories have {histories.shape[1]} columns; the model scores {num_items} items"
        )


class Model(ABC):
    """A trained model: learned arrays plus numpy scoring.

    ``score_users`` scores users seen in training; ``score_histories`` scores users from a
    history given at request time (held-out users in evaluation, new users in serving);
    ``score_new_users`` does the same for users whose metadata rows the model knows.
    """

    recipe: ClassVar[str]
    #: Whether every user gets the same scores (popularity, trending), so that a user the
    #: model never saw can be served its list rather than a fallback.
    same_for_every_user: ClassVar[bool] = False

    @property
    @abstractmethod
    def num_items(self) -> int:
        """Number of items the model scores."""

    @abstractmethod
    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of shape ``(len(user_indices), num_items)``, float32, higher is better."""

    @abstractmethod
    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores for users given only their weighted histories (rows × num_items)."""

    def score_new_users(self, histories: sp.csr_matrix, user_indices: np.ndarray) -> np.ndarray:
        """Scores of users without training events, from their histories and metadata rows.

        ``user_indices`` say which row of the training data's user metadata each history
        row is, so that a model that learns from Users columns can add what it knows of
        them. By default the metadata is not used and the histories alone are scored, as
        :meth:`score_histories` does.
        """
        return self.score_histories(histories)

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays to save, by file stem."""

    @classmethod
    @abstractmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> Model:
        """Rebuild a model from :meth:`arrays` and the validated hyperparameters."""

    def similarity_vectors(self) -> np.ndarray | None:
        """One vector per item whose cosine says how alike two items are; ``None`` if none.

        Factor models return their item factors or embeddings; the default has none.
        """
        return None

    @property
    def supports_similar_items(self) -> bool:
        """Whether :meth:`similar_items` can relate items (by default: it has item vectors)."""
        return self.similarity_vectors() is not None

    def similar_items(self, item_index: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``count`` items most like ``item_index``, best first, and their scores.

        Never the item itself. The default ranks items by the positive cosine of their
        :meth:`similarity_vectors`, ties to the lower index.

        Raises
        ------
        InvalidStateError
            The model has no item-to-item similarity.
        """
        vectors = self.similarity_vectors()
        if vectors is None:
            raise InvalidStateError(f"a {self.recipe} model has no item-to-item similarity")
        return cosine_neighbours(vectors, item_index, count)


@dataclass(frozen=True)
class Refresh:
    """What a training in ``UPDATE`` mode starts from (see :meth:`Recipe.update`).

    Attributes
    ----------
    model : Model
        The model of the solution's latest ACTIVE ``FULL`` version.
    known_users, known_items : int64 arrays
        For each user (item) of the current data, its index in ``model``, or -1 for one the
        model never saw.
    changed_users : bool array
        For each user of the current data, whether their weighted history differs from the
        one ``model`` was trained on; every new user has changed.
    """

    model: Model
    known_users: np.ndarray
    known_items: np.ndarray
    changed_users: np.ndarray


@dataclass
class Recipe(ABC):
    """An algorithm with declared hyperparameters.

    Subclasses set ``name``, ``hyperparameters`` and ``model_class`` and implement
    :meth:`fit`. :meth:`event_weights` turns selected events into the weight each adds to
    the user × item matrix; the default counts every event once. A recipe that sets
    ``supports_update`` implements :meth:`update`, the service's ``UPDATE`` training mode.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = ()
    model_class: ClassVar[type[Model]]
    supports_update: ClassVar[bool] = False
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def validate_hyperparameters(cls, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return every hyperparameter, defaults filled in, converted and range-checked.

        Raises
        ------
        InvalidInputError
            A name the recipe does not declare, or a value of the wrong type or range.
        """
        given = dict(values or {})
        specs = {spec.name: spec for spec in cls.hyperparameters}
        unknown = sorted(set(given) - set(specs))
        if unknown:
            known = ", ".join(sorted(specs)) or "none"
            raise InvalidInputError(
                f"recipe {cls.name!r} has no hyperparameter {unknown[0]!r} (it takes: {known})"
            )
        return {name: spec.convert(given.get(name, spec.default)) for name, spec in specs.items()}

    def event_weights(
        self, data: InteractionData, hyperparameters: Mapping[str, Any]
    ) -> np.ndarray:
        """Weight each event adds to the user × item matrix (float32, one per event)."""
        return np.ones(len(data), np.float32)

    def positive_matrix(
        self, data: InteractionData, hyperparameters: Mapping[str, Any]
    ) -> sp.csr_matrix:
        """Users × items summed :meth:`event_weights`, pairs that sum to zero or less left out."""
        weights = data.matrix(self.event_weights(data, hyperparameters))
        weights.data[weights.data < 0] = 0.0
        weights.eliminate_zeros()
        return weights

    @abstractmethod
    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> Model:
        """Train on ``data`` with validated ``hyperparameters``; deterministic for ``seed``."""

    def update(
        self, refresh: Refresh, data: InteractionData, hyperparameters: Mapping[str, Any]
    ) -> Model:
        """Bring ``refresh.model`` up to ``data`` without training from scratch.

        The service's ``UPDATE`` mode: new users and items enter the model and users whose
        history changed are refreshed, while what the model learned stays. Only recipes
        that set ``supports_update`` implement it.

        Raises
        ------
        InvalidInputError
            The recipe has no UPDATE mode.
        """
        raise InvalidInputError(
            f"recipe {self.name!r} cannot train in UPDATE mode; train a FULL version instead"
        )
