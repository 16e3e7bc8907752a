"""Solutions and their versions: select interactions, evaluate, train, write the artifact.

A solution is a recipe plus a training configuration, fixed when it is created. Training a
solution produces a new, immutable :class:`SolutionVersion`: the offline metrics of the
service's protocol (see :mod:`engine.evaluation`), then the final model trained on all the
selected data, written as an artifact (see :mod:`engine.artifacts`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.artifacts import load_arrays, read_manifest, write_artifact
from engine.errors import (
    AlreadyExistsError,
    InsufficientDataError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
)
from engine.evaluation import Metrics, evaluate_rankings, split_users
from engine.features import check_column_choice, load_features
from engine.store import DatasetGroup, InteractionCache
from engine.store.files import read_json, write_json, writer_lock
from engine.store.store import check_name
from recipes import InteractionData, Model, Recipe, get_recipe

__all__ = [
    "MIN_INTERACTIONS",
    "MIN_USERS_WITH_TWO",
    "Solution",
    "SolutionConfig",
    "SolutionVersion",
    "create_solution",
    "get_solution",
    "list_solutions",
]

logger = logging.getLogger(__name__)

MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25


@dataclass(frozen=True)
class SolutionConfig:
    """What a solution trains on and how; immutable once the solution exists.

    Parameters
    ----------
    recipe : str
        A recipe name, see :func:`recipes.available_recipes`.
    event_type : str or None
        Train only on events of this type; ``None`` keeps every type.
    event_value_threshold : float or None
        Keep events whose EVENT_VALUE is at least this; needs ``event_type``.
    hyperparameters : dict
        Validated by the recipe; strings are converted as the service does.
    test_share : float
        Share of users held out for the offline metrics (the service's 0.1).
    seed : int
        Seeds the split and the recipe; a fixed seed gives identical versions.
    included_columns, excluded_columns : dict or None
        The service's ``trainingDataConfig``: per dataset type (``USERS``, ``ITEMS``), the
        only metadata columns to use, or the columns to leave out. ``None`` uses every
        categorical, textual and numeric column.
    """

    recipe: str
    event_type: str | None = None
    event_value_threshold: float | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    test_share: float = 0.1
    seed: int = 42
    included_columns: dict[str, list[str]] | None = None
    excluded_columns: dict[str, list[str]] | None = None


def _validated_config(config: SolutionConfig) -> SolutionConfig:
    recipe = get_recipe(config.recipe)
    if config.event_value_threshold is not None and config.event_type is None:
        raise InvalidInputError(
            "event_value_threshold needs event_type: name the event type the threshold applies to"
        )
    if not 0.0 < config.test_share < 1.0:
        raise InvalidInputError(f"test_share must be in (0, 1), got {config.test_share!r}")
    threshold = config.event_value_threshold
    return SolutionConfig(
        recipe=config.recipe,
        event_type=config.event_type,
        event_value_threshold=None if threshold is None else float(threshold),
        hyperparameters=recipe.validate_hyperparameters(config.hyperparameters),
        test_share=float(config.test_share),
        seed=int(config.seed),
        included_columns=_upper_keys(config.included_columns),
        excluded_columns=_upper_keys(config.excluded_columns),
    )


def _upper_keys(choice: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    if choice is None:
        return None
    return {dataset_type.upper(): list(columns) for dataset_type, columns in choice.items()}


@dataclass(frozen=True)
class SolutionVersion:
    """One trained, immutable version of a solution, read from its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def version_id(self) -> str:
        """The version's id, unique within its solution (``v1``, ``v2``, ...)."""
        return str(self.manifest["version_id"])

    @property
    def status(self) -> str:
        """The service's status string: ``ACTIVE`` or ``CREATE FAILED``."""
        return str(self.manifest["status"])

    @property
    def metrics(self) -> dict[str, float]:
        """The offline metrics, keyed by the service's metric names."""
        return dict(self.manifest.get("metrics", {}))

    @property
    def recipe(self) -> str:
        """Name of the recipe that trained this version."""
        return str(self.manifest["config"]["recipe"])

    def load_model(self, verify: bool = True) -> tuple[Model, dict[str, np.ndarray]]:
        """The model and every array of the artifact (checksums verified).

        Raises
        ------
        InvalidStateError
            The version is not ACTIVE.
        ArtifactError
            A file of the artifact is missing or damaged.
        """
        if self.status != "ACTIVE":
            raise InvalidStateError(
                f"solution version {self.version_id} is {self.status}, not ACTIVE; "
                "only an ACTIVE version can be loaded"
            )
        arrays = load_arrays(self.path, self.manifest, verify=verify)
        recipe = get_recipe(self.recipe)
        model_arrays = {
            name[len("model.") :]: a for name, a in arrays.items() if name.startswith("model.")
        }
        model = recipe.model_class.from_arrays(
            model_arrays, self.manifest["config"]["hyperparameters"]
        )
        return model, arrays


class Solution:
    """A recipe plus its training configuration, in a dataset group."""

    def __init__(self, group: DatasetGroup, name: str, config: SolutionConfig) -> None:
        self.group = group
        self.name = name
        self.config = config

    @property
    def path(self) -> Path:
        """Directory of this solution and its versions."""
        return _solutions_root(self.group) / self.name

    def versions(self) -> list[SolutionVersion]:
        """Every version, oldest first."""
        found = []
        for directory in self.path.glob("v*"):
            if directory.is_dir() and directory.name[1:].isdigit():
                found.append(SolutionVersion(directory, read_manifest(directory)))
        return sorted(found, key=lambda found_version: int(found_version.version_id[1:]))

    def version(self, version_id: str | None = None) -> SolutionVersion:
        """The version called ``version_id``, or the latest ACTIVE one when ``None``.

        Raises
        ------
        NotFoundError
            No such version, or no ACTIVE version when none was named.
        """
        versions = self.versions()
        if version_id is None:
            active = [found for found in versions if found.status == "ACTIVE"]
            if not active:
                raise NotFoundError(f"solution {self.name!r} has no ACTIVE version; train it first")
            return active[-1]
        for found in versions:
            if found.version_id == version_id:
                return found
        raise NotFoundError(f"solution {self.name!r} has no version {version_id!r}")

    def train(self, show_progress: bool = False) -> SolutionVersion:
        """Evaluate and train a new version on the group's current data.

        Returns
        -------
        SolutionVersion
            ACTIVE, with metrics. A run that fails for lack of data is recorded as a
            ``CREATE FAILED`` version with its reason and the error is raised.

        Raises
        ------
        InsufficientDataError
            Fewer than 1000 selected interactions or 25 users with two or more.
        """
        started = time.perf_counter()
        with writer_lock(self.path):
            version_id = f"v{len(list(self.path.glob('v*'))) + 1}"
            directory = self.path / version_id
            base_manifest = self._base_manifest(version_id)
            try:
                manifest, arrays = _train_version(self, base_manifest, show_progress)
            except InsufficientDataError as error:
                failed = {**base_manifest, "status": "CREATE FAILED", "failure_reason": str(error)}
                write_artifact(directory, failed, {})
                raise
            manifest["timings"]["total_seconds"] = round(time.perf_counter() - started, 3)
            write_artifact(directory, manifest, arrays)
        logger.info(
            "trained %s/%s (%s) in %.1f s",
            self.name,
            version_id,
            self.config.recipe,
            time.perf_counter() - started,
        )
        return SolutionVersion(directory, read_manifest(directory))

    def _base_manifest(self, version_id: str) -> dict[str, Any]:
        return {
            "format": 1,
            "solution": self.name,
            "dataset_group": self.group.name,
            "version_id": version_id,
            "config": asdict(self.config),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "library_versions": _library_versions(),
            "timings": {},
        }

    def describe(self) -> dict[str, Any]:
        """The solution's name, configuration and version ids."""
        return {
            "name": self.name,
            "dataset_group": self.group.name,
            **asdict(self.config),
            "versions": [found.version_id for found in self.versions()],
        }


def _solutions_root(group: DatasetGroup) -> Path:
    return Path(group.path) / "solutions"


def create_solution(
    group: DatasetGroup,
    name: str,
    recipe: str,
    *,
    event_type: str | None = None,
    event_value_threshold: float | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    test_share: float = 0.1,
    seed: int = 42,
    included_columns: Mapping[str, Sequence[str]] | None = None,
    excluded_columns: Mapping[str, Sequence[str]] | None = None,
) -> Solution:
    """Create a solution in ``group``; the configuration is validated now, not at training.

    Raises
    ------
    InvalidInputError
        A bad name, an unknown recipe or hyperparameter, a threshold without an event type,
        or a column choice naming a column the datasets do not have.
    AlreadyExistsError
        The group has a solution of that name.

    Examples
    --------
    >>> solution = create_solution(group, "watch-als", "user-personalization",
    ...                            event_type="watch", event_value_threshold=0.5)
    >>> version = solution.train()
    """
    check_name(name)
    config = _validated_config(
        SolutionConfig(
            recipe=recipe,
            event_type=event_type,
            event_value_threshold=event_value_threshold,
            hyperparameters=dict(hyperparameters or {}),
            test_share=test_share,
            seed=seed,
            included_columns=_upper_keys(included_columns),
            excluded_columns=_upper_keys(excluded_columns),
        )
    )
    check_column_choice(group, config.included_columns, config.excluded_columns)
    path = _solutions_root(group) / name
    with writer_lock(_solutions_root(group)):
        if (path / "solution.json").exists():
            raise AlreadyExistsError(
                f"solution {name!r} already exists in dataset group {group.name!r}"
            )
        write_json(path / "solution.json", {"name": name, "config": asdict(config)})
    logger.info("created solution %s with recipe %s", name, recipe)
    return Solution(group, name, config)


def get_solution(group: DatasetGroup, name: str) -> Solution:
    """The solution called ``name`` in ``group``.

    Raises
    ------
    NotFoundError
        The group has no such solution.
    """
    path = _solutions_root(group) / name / "solution.json"
    if not path.is_file():
        raise NotFoundError(f"solution {name!r} does not exist in dataset group {group.name!r}")
    return Solution(group, name, SolutionConfig(**read_json(path)["config"]))


def list_solutions(group: DatasetGroup) -> list[Solution]:
    """Every solution of ``group``, by name."""
    root = _solutions_root(group)
    names = sorted(path.parent.name for path in root.glob("*/solution.json"))
    return [get_solution(group, name) for name in names]


def _library_versions() -> dict[str, str]:
    found = {}
    for package in ("recengine", "numpy", "scipy", "implicit", "pyarrow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def select_interactions(cache: InteractionCache, config: SolutionConfig) -> InteractionData:
    """The events a solution trains on: its event type, at or above its value threshold."""
    everything = InteractionData(
        user_indices=cache.user_indices,
        item_indices=cache.item_indices,
        timestamps=cache.timestamps,
        event_types=cache.event_types,
        event_values=cache.event_values,
        num_users=len(cache.user_ids),
        num_items=len(cache.item_ids),
        event_type_names=tuple(cache.event_type_names),
    )
    keep = np.ones(len(everything), bool)
    if config.event_type is not None:
        names = list(cache.event_type_names)
        if config.event_type not in names:
            known = ", ".join(repr(name) for name in names if name) or "none"
            raise InsufficientDataError(
                f"Create failed. No interactions have event type {config.event_type!r} "
                f"(event types in the data: {known})."
            )
        keep &= cache.event_types == names.index(config.event_type)
    if config.event_value_threshold is not None:
        keep &= cache.event_values >= np.float32(config.event_value_threshold)
    return everything.subset(keep)


def with_features(
    data: InteractionData, group: DatasetGroup, cache: InteractionCache, config: SolutionConfig
) -> InteractionData:
    """``data`` with the Users and Items columns the configuration chooses."""
    included = config.included_columns or {}
    excluded = config.excluded_columns or {}
    return dataclasses.replace(
        data,
        user_features=load_features(
            group, "USERS", cache.user_ids, included.get("USERS"), excluded.get("USERS")
        ),
        item_features=load_features(
            group, "ITEMS", cache.item_ids, included.get("ITEMS"), excluded.get("ITEMS")
        ),
    )


def check_minimum_data(data: InteractionData) -> None:
    """Refuse to train below the service's minimum, with its reason.

    Raises
    ------
    InsufficientDataError
        Fewer than 1000 interactions, or fewer than 25 users with two or more.
    """
    if len(data) < MIN_INTERACTIONS:
        raise InsufficientDataError(
            f"Create failed. Dataset has {len(data)} interactions after filtering by event type "
            f"and value; at least {MIN_INTERACTIONS} are needed."
        )
    users_with_two = int((np.bincount(data.user_indices) >= 2).sum())
    if users_with_two < MIN_USERS_WITH_TWO:
        raise InsufficientDataError(
            f"Create failed. Dataset has fewer than {MIN_USERS_WITH_TWO} users with at least "
            f"2 interactions each (it has {users_with_two})."
        )


def _train_version(
    solution: Solution, manifest: dict[str, Any], show_progress: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    config = solution.config
    recipe = get_recipe(config.recipe)()
    cache = solution.group.interaction_cache()
    data = with_features(select_interactions(cache, config), solution.group, cache, config)
    check_minimum_data(data)
    logger.info("selected %d interactions of %d users", len(data), _users_with_events(data))

    started = time.perf_counter()
    metrics = evaluate_solution(recipe, data, config, show_progress)
    evaluated = time.perf_counter()
    model = recipe.fit(data, config.hyperparameters, seed=config.seed, show_progress=show_progress)
    trained = time.perf_counter()

    arrays = {f"model.{name}": array for name, array in model.arrays().items()}
    arrays.update(_serving_arrays(cache, data, recipe.event_weights(data, config.hyperparameters)))
    arrays.update({f"metrics.{name}": values for name, values in metrics.per_user.items()})
    arrays["metrics.test_users"] = metrics.test_users
    manifest.update(
        status="ACTIVE",
        data_fingerprint=_fingerprint(cache),
        events_log_end=cache.log_end,
        num_interactions=len(data),
        num_users=_users_with_events(data),
        num_items=len(cache.item_ids),
        metrics=metrics.values,
        num_test_users=int(metrics.test_users.size),
        num_test_users_skipped=metrics.num_test_users_skipped,
    )
    manifest["timings"].update(
        evaluate_seconds=round(evaluated - started, 3), train_seconds=round(trained - evaluated, 3)
    )
    return manifest, arrays


def _users_with_events(data: InteractionData) -> int:
    return int(np.count_nonzero(np.bincount(data.user_indices, minlength=data.num_users)))


def evaluate_solution(
    recipe: Recipe, data: InteractionData, config: SolutionConfig, show_progress: bool = False
) -> Metrics:
    """Offline metrics of ``recipe`` on ``data`` with the service's held-out-users protocol."""
    split = split_users(data.user_indices, data.timestamps, config.test_share, config.seed)
    training = data.subset(split.train)
    weights = recipe.event_weights(data, config.hyperparameters)
    model = recipe.fit(
        training, config.hyperparameters, seed=config.seed, show_progress=show_progress
    )

    row_of_user = np.full(data.num_users, -1, np.int64)
    row_of_user[split.test_users] = np.arange(split.test_users.size)
    shape = (split.test_users.size, data.num_items)

    def rows(mask: np.ndarray) -> sp.csr_matrix:
        matrix = sp.csr_matrix(
            (weights[mask], (row_of_user[data.user_indices[mask]], data.item_indices[mask])),
            shape=shape,
        )
        matrix.sum_duplicates()
        return matrix

    return evaluate_rankings(
        model.score_histories,
        rows(split.history),
        rows(split.truth),
        split.test_users,
        data.num_items,
    )


def _serving_arrays(
    cache: InteractionCache, data: InteractionData, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Vocabularies, each user's seen items and their weights, and item popularity.

    ``seen_weights`` holds the summed training weight of each seen pair (0 where the solution
    did not select the events), so that serving can fold a user in from their history.
    """
    shape = (len(cache.user_ids), len(cache.item_ids))
    seen = sp.csr_matrix(
        (np.ones(len(cache.user_indices), np.int8), (cache.user_indices, cache.item_indices)),
        shape=shape,
    )
    seen.sum_duplicates()
    weighted = sp.csr_matrix((weights, (data.user_indices, data.item_indices)), shape=shape)
    weighted.sum_duplicates()
    rows = np.repeat(np.arange(shape[0]), np.diff(seen.indptr))
    seen_weights = np.asarray(weighted[rows, seen.indices]).ravel().astype(np.float32)
    # ``weighted`` holds each selected pair once (zero weights too): count them per item.
    popularity = np.bincount(weighted.indices, minlength=data.num_items).astype(np.float32)
    return {
        "user_ids": np.asarray(cache.user_ids, dtype=str),
        "item_ids": np.asarray(cache.item_ids, dtype=str),
        "seen_indptr": seen.indptr.astype(np.int64),
        "seen_indices": seen.indices.astype(np.int32),
        "seen_weights": seen_weights,
        "item_popularity": popularity,
    }


def _fingerprint(cache: InteractionCache) -> str:
    digest = hashlib.sha256()
    for array in (cache.user_indices, cache.item_indices, cache.timestamps, cache.event_values):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
