"""Solutions and their versions: select interactions, evaluate, train, write the artifact.

A solution is a recipe plus a training configuration, fixed when it is created. Training a
solution produces a new, immutable :class:`SolutionVersion`: the offline metrics of the
service's protocol (see :mod:`engine.evaluation`), then the final model trained on all the
selected data, written as an artifact (see :mod:`engine.artifacts`).

A version goes through the service's statuses (see :mod:`engine.lifecycle`), can be trained
in a background thread and stopped, and is trained in one of two modes: ``FULL`` from
scratch, or ``UPDATE``, a refresh of the latest ACTIVE FULL version that brings in the users
and items that came since (see :mod:`engine.update_mode`). Only one version of a solution
trains at a time: a second training is refused while one runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.artifacts import load_arrays
from engine.errors import (
    AlreadyExistsError,
    InsufficientDataError,
    InUseError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    RecengineError,
)
from engine.evaluation import Metrics
from engine.features import check_column_choice, load_features
from engine.lifecycle import ACTIVE, VersionRun, read_record, request_stop, version_directories
from engine.protocols import evaluate_standard
from engine.selection import TrainingWindow
from engine.store import DatasetGroup, InteractionCache
from engine.store.files import read_json, write_json, writer_lock
from engine.store.store import check_name
from engine.update_mode import refresh_from
from recipes import InteractionData, Model, Recipe, get_recipe
from recipes.popularity import distinct_users_per_item

__all__ = [
    "MIN_INTERACTIONS",
    "MIN_USERS_WITH_TWO",
    "Solution",
    "SolutionConfig",
    "SolutionVersion",
    "TRAINING_MODES",
    "TrainingJob",
    "check_minimum_data",
    "create_solution",
    "get_solution",
    "list_solutions",
    "select_interactions",
    "summarize_version",
    "training_columns",
    "validate_config",
    "with_features",
]

logger = logging.getLogger(__name__)

MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
TRAINING_MODES = ("FULL", "UPDATE")


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
        categorical, textual and numeric column. The columns a version used are recorded in
        its manifest as ``training_columns``.
    training_window_start, training_window_end : int or None
        Train only on events at or after the start and before the end, in epoch seconds
        (see :mod:`engine.selection`; ISO 8601 dates are converted when the solution is
        created).
    training_window_days : float or None
        Train only on the last this many days before ``training_window_end``, or before the
        dataset's newest interaction; excludes ``training_window_start``.
    """

    recipe: str
    event_type: str | None = None
    event_value_threshold: float | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    test_share: float = 0.1
    seed: int = 42
    included_columns: dict[str, list[str]] | None = None
    excluded_columns: dict[str, list[str]] | None = None
    training_window_start: int | None = None
    training_window_end: int | None = None
    training_window_days: float | None = None

    @property
    def training_window(self) -> TrainingWindow:
        """The window of time the solution trains on."""
        return TrainingWindow(
            self.training_window_start, self.training_window_end, self.training_window_days
        )


def _validated_config(config: SolutionConfig) -> SolutionConfig:
    recipe = get_recipe(config.recipe)
    if config.event_value_threshold is not None and config.event_type is None:
        raise InvalidInputError(
            "event_value_threshold needs event_type: name the event type the threshold applies to"
        )
    if not 0.0 < config.test_share < 1.0:
        raise InvalidInputError(f"test_share must be in (0, 1), got {config.test_share!r}")
    threshold = config.event_value_threshold
    window = TrainingWindow.checked(
        config.training_window_start, config.training_window_end, config.training_window_days
    )
    return SolutionConfig(
        recipe=config.recipe,
        event_type=config.event_type,
        event_value_threshold=None if threshold is None else float(threshold),
        hyperparameters=recipe.validate_hyperparameters(config.hyperparameters),
        test_share=float(config.test_share),
        seed=int(config.seed),
        included_columns=_upper_keys(config.included_columns),
        excluded_columns=_upper_keys(config.excluded_columns),
        training_window_start=window.start,
        training_window_end=window.end,
        training_window_days=window.days,
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
        """The service's status string when the version was read (see :mod:`engine.lifecycle`).

        ``CREATE PENDING``, ``CREATE IN_PROGRESS``, ``ACTIVE``, ``CREATE FAILED``,
        ``CREATE STOPPING`` or ``CREATE STOPPED``.
        """
        return str(self.manifest["status"])

    @property
    def training_mode(self) -> str:
        """``FULL`` (trained from scratch) or ``UPDATE`` (refreshed from a FULL version)."""
        return str(self.manifest.get("training_mode", "FULL"))

    @property
    def failure_reason(self) -> str | None:
        """Why the version failed, for a ``CREATE FAILED`` version."""
        reason = self.manifest.get("failure_reason")
        return None if reason is None else str(reason)

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
        if self.status != ACTIVE:
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
        """Every version, oldest first, each with the status it has now."""
        return [
            SolutionVersion(directory, read_record(directory))
            for directory in version_directories(self.path)
        ]

    def version(self, version_id: str | None = None) -> SolutionVersion:
        """The version called ``version_id``, or the latest ACTIVE one when ``None``.

        Raises
        ------
        NotFoundError
            No such version, or no ACTIVE version when none was named.
        """
        versions = self.versions()
        if version_id is None:
            active = [found for found in versions if found.status == ACTIVE]
            if not active:
                raise NotFoundError(f"solution {self.name!r} has no ACTIVE version; train it first")
            return active[-1]
        for found in versions:
            if found.version_id == version_id:
                return found
        raise NotFoundError(f"solution {self.name!r} has no version {version_id!r}")

    def latest_full_version(self) -> SolutionVersion:
        """The latest ACTIVE version trained in ``FULL`` mode, which ``UPDATE`` refreshes.

        Raises
        ------
        InvalidStateError
            The solution has no ACTIVE FULL version.
        """
        full = [
            found
            for found in self.versions()
            if found.status == ACTIVE and found.training_mode == "FULL"
        ]
        if not full:
            raise InvalidStateError(
                f"solution {self.name!r} has no ACTIVE FULL version; train one in FULL mode "
                "before training in UPDATE mode"
            )
        return full[-1]

    def train(self, training_mode: str = "FULL", show_progress: bool = False) -> SolutionVersion:
        """Create a new version on the group's current data and wait for it.

        Parameters
        ----------
        training_mode
            ``FULL`` evaluates and trains from scratch. ``UPDATE`` refreshes the latest
            ACTIVE FULL version with the users and items that came since (recipes that
            support it, such as ``user-personalization``); it keeps that version's metrics.
        show_progress
            Show progress bars.

        Returns
        -------
        SolutionVersion
            ACTIVE, with metrics. A run that fails is recorded as a ``CREATE FAILED``
            version with its reason, and the error is raised.

        Raises
        ------
        InsufficientDataError
            Fewer than 1000 selected interactions or 25 users with two or more.
        InvalidInputError
            An unknown training mode, or UPDATE for a recipe without it.
        InvalidStateError
            UPDATE without an ACTIVE FULL version, or the training was stopped.
        InUseError
            Another version of this solution is being trained.
        """
        with self._writer_lock():
            run = self._begin(training_mode)
            status = self._execute(run, show_progress)
        if status != ACTIVE:
            raise InvalidStateError(
                f"the training of {self.name}/{run.version_id} was stopped; the version is {status}"
            )
        return self.version(run.version_id)

    def train_in_background(
        self, training_mode: str = "FULL", show_progress: bool = False
    ) -> TrainingJob:
        """Create a new version in a background thread; return at once.

        The version exists, ``CREATE PENDING``, when this returns. Parameters and the errors
        raised at once are those of :meth:`train`; errors of the training itself end the
        version ``CREATE FAILED`` and are kept in :attr:`TrainingJob.error`.

        Examples
        --------
        >>> job = solution.train_in_background()  # doctest: +SKIP
        >>> job.stop()  # doctest: +SKIP
        >>> job.wait().status  # doctest: +SKIP
        'CREATE STOPPED'
        """
        lock = contextlib.ExitStack()
        lock.enter_context(self._writer_lock())
        try:
            run = self._begin(training_mode)
        except BaseException:
            lock.close()
            raise
        job = TrainingJob(self, run.version_id)
        job.start(lambda: self._execute(run, show_progress), lock)
        return job

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """The solution's writer lock, refused with a message that names the solution."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(writer_lock(self.path))
            except InUseError:
                raise InUseError(
                    f"solution {self.name!r} is being trained or changed by another writer; "
                    "wait for it to finish (or stop its version) and try again"
                ) from None
            yield

    def _begin(self, training_mode: str) -> VersionRun:
        """Check the mode, then record the new version ``CREATE PENDING``."""
        if training_mode not in TRAINING_MODES:
            raise InvalidInputError(
                f"training_mode must be one of {', '.join(TRAINING_MODES)}, got {training_mode!r}"
            )
        manifest = self._base_manifest(training_mode)
        if training_mode == "UPDATE":
            if not get_recipe(self.config.recipe).supports_update:
                raise InvalidInputError(
                    f"recipe {self.config.recipe!r} cannot train in UPDATE mode; "
                    "train a FULL version instead"
                )
            manifest["base_version"] = self.latest_full_version().version_id
        return VersionRun.begin(self.path, manifest)

    def _execute(self, run: VersionRun, show_progress: bool) -> str:
        """Train the version ``run`` records; return its final status."""
        started = time.perf_counter()
        train = _update_version if run.manifest["training_mode"] == "UPDATE" else _train_version

        def work(run: VersionRun) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
            manifest, arrays = train(self, {**run.manifest, "timings": {}}, show_progress, run)
            manifest["timings"]["total_seconds"] = round(time.perf_counter() - started, 3)
            return manifest, arrays

        status = run.execute(work)
        logger.info(
            "%s/%s (%s, %s) is %s after %.1f s",
            self.name,
            run.version_id,
            self.config.recipe,
            run.manifest["training_mode"],
            status,
            time.perf_counter() - started,
        )
        return status

    def _base_manifest(self, training_mode: str) -> dict[str, Any]:
        return {
            "format": 1,
            "solution": self.name,
            "dataset_group": self.group.name,
            "training_mode": training_mode,
            "config": asdict(self.config),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "library_versions": _library_versions(),
            "timings": {},
        }

    def describe(self) -> dict[str, Any]:
        """The solution's name, configuration, version ids and latest version."""
        versions = self.versions()
        latest = versions[-1] if versions else None
        return {
            "name": self.name,
            "dataset_group": self.group.name,
            **asdict(self.config),
            "versions": [found.version_id for found in versions],
            "latest_version": None if latest is None else summarize_version(latest),
        }


def summarize_version(version: SolutionVersion) -> dict[str, Any]:
    """A version's id, status, training mode, dates and failure reason, as a dict.

    An UPDATE version is not evaluated: ``metrics_from`` names the FULL version whose
    metrics it carries.
    """
    manifest = version.manifest
    summary = {
        "version_id": version.version_id,
        "status": version.status,
        "training_mode": version.training_mode,
        "created": manifest.get("created"),
        "updated": manifest.get("updated"),
    }
    if "metrics_from" in manifest:
        summary["metrics_from"] = manifest["metrics_from"]
    if version.failure_reason is not None:
        summary["failure_reason"] = version.failure_reason
    return summary


class TrainingJob:
    """A solution version being trained in a background thread.

    Obtain one from :meth:`Solution.train_in_background`. The thread does not keep the
    interpreter alive: :meth:`wait` for it before the program ends.

    Attributes
    ----------
    solution : Solution
        The solution the version belongs to.
    version_id : str
        The version being created.
    error : BaseException or None
        What ended the training with ``CREATE FAILED``, once it has ended.
    """

    def __init__(self, solution: Solution, version_id: str) -> None:
        self.solution = solution
        self.version_id = version_id
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"TrainingJob({self.solution.name!r}, {self.version_id!r})"

    def start(self, execute: Callable[[], object], lock: contextlib.ExitStack) -> None:
        """Run ``execute`` in a new thread, releasing ``lock`` when it ends."""

        def target() -> None:
            try:
                execute()
            except RecengineError as error:
                self.error = error
                logger.warning("training of %s failed: %s", self, error)
            except BaseException as error:
                self.error = error
                logger.exception("training of %s failed", self)
            finally:
                lock.close()

        name = f"train-{self.solution.name}-{self.version_id}"
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    def version(self) -> SolutionVersion:
        """The version as it is now."""
        return self.solution.version(self.version_id)

    @property
    def status(self) -> str:
        """The version's status now."""
        return self.version().status

    def done(self) -> bool:
        """Whether the training has ended (ACTIVE, failed or stopped)."""
        return self._thread is not None and not self._thread.is_alive()

    def stop(self) -> None:
        """Ask the training to stop; it ends ``CREATE STOPPED`` at its next step.

        Raises
        ------
        InvalidStateError
            The training has ended already.
        """
        request_stop(self.solution.path / self.version_id)

    def wait(self, timeout: float | None = None) -> SolutionVersion:
        """Wait for the training to end and return the version.

        Raises
        ------
        TimeoutError
            It is still running after ``timeout`` seconds.
        """
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"{self} is still training after {timeout} s")
        return self.version()


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
    training_window_start: int | str | datetime | None = None,
    training_window_end: int | str | datetime | None = None,
    training_window_days: float | None = None,
) -> Solution:
    """Create a solution in ``group``; the configuration is validated now, not at training.

    Raises
    ------
    InvalidInputError
        A bad name, an unknown recipe or hyperparameter, a threshold without an event type,
        a column choice naming a column the datasets do not have, or a bad training window.
    AlreadyExistsError
        The group has a solution of that name.

    Examples
    --------
    >>> solution = create_solution(group, "watch-als", "user-personalization",
    ...                            event_type="watch", event_value_threshold=0.5)
    >>> version = solution.train()
    """
    check_name(name)
    window = TrainingWindow.checked(
        training_window_start, training_window_end, training_window_days
    )
    config = validate_config(
        group,
        SolutionConfig(
            recipe=recipe,
            event_type=event_type,
            event_value_threshold=event_value_threshold,
            hyperparameters=dict(hyperparameters or {}),
            test_share=test_share,
            seed=seed,
            included_columns=_upper_keys(included_columns),
            excluded_columns=_upper_keys(excluded_columns),
            training_window_start=window.start,
            training_window_end=window.end,
            training_window_days=window.days,
        ),
    )
    path = _solutions_root(group) / name
    with writer_lock(_solutions_root(group)):
        if (path / "solution.json").exists():
            raise AlreadyExistsError(
                f"solution {name!r} already exists in dataset group {group.name!r}"
            )
        write_json(path / "solution.json", {"name": name, "config": asdict(config)})
    logger.info("created solution %s with recipe %s", name, recipe)
    return Solution(group, name, config)


def validate_config(group: DatasetGroup, config: SolutionConfig) -> SolutionConfig:
    """``config`` checked against its recipe and ``group``'s datasets, its values converted.

    Raises
    ------
    InvalidInputError
        An unknown recipe or hyperparameter, a threshold without an event type, a column
        choice naming a column the datasets do not have, or a bad training window.
    """
    validated = _validated_config(config)
    check_column_choice(group, validated.included_columns, validated.excluded_columns)
    return validated


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
    """The events a solution trains on: its event type, at or above its value threshold,
    inside its training window."""
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
    keep &= config.training_window.mask(cache.timestamps)
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


def training_columns(data: InteractionData) -> dict[str, list[str]]:
    """The Users and Items columns ``data`` carries, as a version's manifest records them."""
    return {"USERS": list(data.user_features.names), "ITEMS": list(data.item_features.names)}


def _window_record(cache: InteractionCache, config: SolutionConfig) -> dict[str, int | None]:
    """The window's bounds in epoch seconds (``None`` where open), for the manifest."""
    window = config.training_window
    newest = int(cache.timestamps.max()) if cache.timestamps.size else 0
    start, end = window.bounds(newest) if window.is_set else (None, None)
    return {"start": start, "end": end}


def check_minimum_data(data: InteractionData) -> None:
    """Refuse to train below the service's minimum, with its reason.

    Raises
    ------
    InsufficientDataError
        Fewer than 1000 interactions, or fewer than 25 users with two or more.
    """
    if len(data) < MIN_INTERACTIONS:
        raise InsufficientDataError(
            f"Create failed. Dataset has {len(data)} interactions after filtering by event type, "
            f"value and time window; at least {MIN_INTERACTIONS} are needed."
        )
    users_with_two = int((np.bincount(data.user_indices) >= 2).sum())
    if users_with_two < MIN_USERS_WITH_TWO:
        raise InsufficientDataError(
            f"Create failed. Dataset has fewer than {MIN_USERS_WITH_TWO} users with at least "
            f"2 interactions each (it has {users_with_two})."
        )


def _train_version(
    solution: Solution, manifest: dict[str, Any], show_progress: bool, run: VersionRun
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A FULL version: evaluate with the service's protocol, then fit on all the data."""
    config = solution.config
    recipe, cache, data = _selected_data(solution)
    run.checkpoint()

    started = time.perf_counter()
    metrics = evaluate_solution(recipe, data, config, show_progress)
    evaluated = time.perf_counter()
    run.checkpoint()
    model = recipe.fit(data, config.hyperparameters, seed=config.seed, show_progress=show_progress)
    trained = time.perf_counter()
    run.checkpoint()

    arrays = {f"model.{name}": array for name, array in model.arrays().items()}
    weights = recipe.event_weights(data, config.hyperparameters)
    half_life = float(config.hyperparameters.get("recency_half_life_days", 0.0))
    arrays.update(_serving_arrays(cache, data, weights, half_life))
    arrays.update({f"metrics.{name}": values for name, values in metrics.per_user.items()})
    arrays["metrics.test_users"] = metrics.test_users
    manifest.update(
        _data_summary(cache, data),
        metrics=metrics.values,
        num_test_users=int(metrics.test_users.size),
        num_test_users_skipped=metrics.num_test_users_skipped,
        training_columns=training_columns(data),
        training_window=_window_record(cache, config),
    )
    manifest["timings"].update(
        evaluate_seconds=round(evaluated - started, 3), train_seconds=round(trained - evaluated, 3)
    )
    return manifest, arrays


def _update_version(
    solution: Solution, manifest: dict[str, Any], show_progress: bool, run: VersionRun
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An UPDATE version: the base FULL version's model refreshed with the current data.

    There is no evaluation: the metrics are the base version's, and ``metrics_from`` says so.
    """
    config = solution.config
    base = solution.version(manifest["base_version"])
    recipe, cache, data = _selected_data(solution)
    run.checkpoint()

    started = time.perf_counter()
    base_model, base_arrays = base.load_model()
    weights = recipe.event_weights(data, config.hyperparameters)
    half_life = float(config.hyperparameters.get("recency_half_life_days", 0.0))
    arrays = _serving_arrays(cache, data, weights, half_life)
    refresh = refresh_from(base_model, base_arrays, arrays)
    model = recipe.update(refresh, data, config.hyperparameters)
    arrays.update({f"model.{name}": array for name, array in model.arrays().items()})
    manifest.update(
        _data_summary(cache, data),
        metrics=base.metrics,
        metrics_from=base.version_id,
        num_new_users=int((refresh.known_users < 0).sum()),
        num_new_items=int((refresh.known_items < 0).sum()),
        num_refreshed_users=int(refresh.changed_users.sum()),
    )
    manifest["timings"]["update_seconds"] = round(time.perf_counter() - started, 3)
    return manifest, arrays


def _selected_data(solution: Solution) -> tuple[Recipe, InteractionCache, InteractionData]:
    """The solution's recipe, the group's interactions and the data the solution selects."""
    config = solution.config
    recipe = get_recipe(config.recipe)()
    cache = solution.group.interaction_cache()
    data = with_features(select_interactions(cache, config), solution.group, cache, config)
    check_minimum_data(data)
    logger.info("selected %d interactions of %d users", len(data), _users_with_events(data))
    return recipe, cache, data


def _data_summary(cache: InteractionCache, data: InteractionData) -> dict[str, Any]:
    """What a version was trained on: fingerprint, log offset and counts."""
    return {
        "data_fingerprint": _fingerprint(cache),
        "events_log_end": cache.log_end,
        "num_interactions": len(data),
        "num_users": _users_with_events(data),
        "num_items": len(cache.item_ids),
    }


def _users_with_events(data: InteractionData) -> int:
    return int(np.count_nonzero(np.bincount(data.user_indices, minlength=data.num_users)))


def evaluate_solution(
    recipe: Recipe, data: InteractionData, config: SolutionConfig, show_progress: bool = False
) -> Metrics:
    """Offline metrics of ``recipe`` on ``data`` with the service's held-out-users protocol.

    See :func:`engine.protocols.evaluate_standard`.
    """
    return evaluate_standard(
        recipe, data, config.hyperparameters, config.seed, config.test_share, show_progress
    )


def _serving_arrays(
    cache: InteractionCache, data: InteractionData, weights: np.ndarray, half_life_days: float
) -> dict[str, np.ndarray]:
    """Vocabularies, each user's seen items and their weights, item popularity, and the
    anonymous sessions joined to users (served as those users).

    ``seen_weights`` holds the summed training weight of each seen pair (0 where the solution
    did not select the events), so that serving can fold a user in from their history.
    ``item_popularity``, the fallback for unknown users, counts distinct users per item with
    the solution's recency half-life, as ``popularity-count`` does.
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
    if half_life_days > 0:
        popularity = distinct_users_per_item(data, half_life_days)
    else:  # ``weighted`` holds each selected pair once (zero weights too): count per item
        popularity = np.bincount(weighted.indices, minlength=data.num_items).astype(np.float32)
    return {
        "user_ids": np.asarray(cache.user_ids, dtype=str),
        "item_ids": np.asarray(cache.item_ids, dtype=str),
        "seen_indptr": seen.indptr.astype(np.int64),
        "seen_indices": seen.indices.astype(np.int32),
        "seen_weights": seen_weights,
        "item_popularity": popularity,
        "session_ids": np.asarray(cache.session_ids, dtype=str),
        "session_user_ids": np.asarray(cache.session_user_ids, dtype=str),
    }


def _fingerprint(cache: InteractionCache) -> str:
    digest = hashlib.sha256()
    for array in (cache.user_indices, cache.item_indices, cache.timestamps, cache.event_values):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
