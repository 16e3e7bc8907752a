"""Experiments: several solution configurations on one dataset group, side by side.

An experiment answers "what does this choice of metadata or events buy on my data?". It
evaluates each configuration under the protocols of :mod:`engine.protocols` (the service's
standard one, held-out new users, held-out new items) and gathers the metrics into one
table, which it can print, write as JSON and draw as a PNG bar chart.

Choices made here:

- One ``seed`` and one ``test_share`` hold for the whole experiment and replace each
  configuration's own, so every configuration is judged on the same held-out users and
  items. Configurations that select other events (``event_type``, a threshold, a window)
  are evaluated on the events they select, as the service evaluates a solution.
- No solution or version is written: the models are trained in memory and dropped (the
  group's derived interaction cache is refreshed if stale, as training does). Create the
  configuration that wins with :func:`engine.training.create_solution` to keep it.
- The result holds no timings, so two runs with one seed give identical tables and JSON.

Examples
--------
>>> from engine.training import SolutionConfig
>>> result = run_experiment(group, {
...     "popularity": SolutionConfig("popularity-count"),
...     "hybrid": SolutionConfig("hybrid", included_columns={"ITEMS": ["GENRES"]}),
... })  # doctest: +SKIP
>>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidInputError
from engine.evaluation import Metrics
from engine.progress import progress_steps
from engine.protocols import (
    COLD_START_METRIC_NAMES,
    DEFAULT_HISTORY_SIZE,
    PROTOCOLS,
    evaluate_new_items,
    evaluate_new_users,
    evaluate_standard,
)
from engine.store import DatasetGroup
from engine.store.files import read_json, write_json
from engine.training import (
    SolutionConfig,
    check_minimum_data,
    select_interactions,
    training_columns,
    validate_config,
    with_features,
)
from recipes import InteractionData, get_recipe

__all__ = [
    "DEFAULT_TABLE_METRICS",
    "ExperimentResult",
    "ExperimentSettings",
    "load_experiment",
    "run_experiment",
]

logger = logging.getLogger(__name__)

DEFAULT_TABLE_METRICS = ("normalized_discounted_cumulative_gain_at_10", "recall_at_10")
_SHORT_NAMES = {
    "coverage": "coverage",
    "mean_reciprocal_rank_at_25": "MRR@25",
    **{f"normalized_discounted_cumulative_gain_at_{k}": f"NDCG@{k}" for k in (5, 10, 25)},
    **{f"precision_at_{k}": f"precision@{k}" for k in (5, 10, 25)},
    **{f"recall_at_{k}": f"recall@{k}" for k in (5, 10, 25)},
}
# The settings an experiment fixes for every configuration.
_SHARED_FIELDS = ("seed", "test_share")


@dataclass(frozen=True)
class ExperimentSettings:
    """How an experiment evaluates its configurations.

    Parameters
    ----------
    protocols : tuple of str
        Any of ``"standard"``, ``"new-users"``, ``"new-items"``, in the order shown.
    metrics : tuple of str
        The metrics of the table and the chart; every metric is kept in the JSON.
    seed : int
        Seeds every split and every model.
    test_share : float
        Share of users held out by the standard and new-users protocols.
    new_user_history : int
        Distinct items a new user is scored from.
    new_item_share : float
        Share of the items held out by the new-items protocol.
    """

    protocols: tuple[str, ...] = PROTOCOLS
    metrics: tuple[str, ...] = DEFAULT_TABLE_METRICS
    seed: int = 42
    test_share: float = 0.1
    new_user_history: int = DEFAULT_HISTORY_SIZE
    new_item_share: float = 0.1

    def checked(self) -> ExperimentSettings:
        """The settings with names and ranges checked.

        Raises
        ------
        InvalidInputError
            An unknown protocol or metric, or a share or history size out of range.
        """
        _check_known("protocol", self.protocols, PROTOCOLS)
        _check_known("metric", self.metrics, COLD_START_METRIC_NAMES)
        for name in ("test_share", "new_item_share"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InvalidInputError(f"{name} must be in (0, 1), got {getattr(self, name)!r}")
        if self.new_user_history < 0:
            raise InvalidInputError(
                f"new_user_history must be 0 or more, got {self.new_user_history!r}"
            )
        return dataclasses.replace(
            self, protocols=tuple(self.protocols), metrics=tuple(self.metrics)
        )


def _check_known(kind: str, given: Sequence[str], known: Sequence[str]) -> None:
    unknown = [name for name in given if name not in known]
    if unknown or not given:
        allowed = ", ".join(known)
        got = repr(unknown[0]) if unknown else "none"
        raise InvalidInputError(f"unknown {kind} {got}; choose one or more of: {allowed}")


@dataclass(frozen=True)
class ExperimentResult:
    """The metrics of every configuration under every protocol.

    Attributes
    ----------
    dataset_group : str
        The group the experiment ran on.
    settings : ExperimentSettings
        How it ran.
    configs : dict of str to SolutionConfig
        Each configuration, validated, with the experiment's seed and test share.
    training_columns : dict
        Per configuration, the Users and Items columns it trained on.
    results : dict
        ``results[configuration][protocol]`` holds ``metrics`` (every metric),
        ``num_test_users`` and ``num_test_users_skipped``.
    """

    dataset_group: str
    settings: ExperimentSettings
    configs: dict[str, SolutionConfig]
    training_columns: dict[str, dict[str, list[str]]]
    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def value(self, config: str, protocol: str, metric: str) -> float:
        """One metric of one configuration under one protocol."""
        return float(self.results[config][protocol]["metrics"][metric])

    def table(self) -> str:
        """The table as text: one row per configuration, the chosen metrics per protocol."""
        columns = [(p, m) for p in self.settings.protocols for m in self.settings.metrics]
        width = max(len("configuration"), *(len(name) for name in self.configs))
        cell = max(11, *(len(_SHORT_NAMES[metric]) for _, metric in columns))

        def line(first: str, cells: Sequence[str]) -> str:
            return f"{first:<{width}}  " + "  ".join(f"{text:>{cell}}" for text in cells)

        span = len(self.settings.metrics) * (cell + 2) - 2
        header = f"{'':<{width}}  " + "  ".join(f"{p:^{span}}" for p in self.settings.protocols)
        lines = [header.rstrip(), line("configuration", [_SHORT_NAMES[m] for _, m in columns])]
        for name in self.configs:
            lines.append(line(name, [f"{self.value(name, p, m):.4f}" for p, m in columns]))
        return "\n".join(lines)

    def test_user_counts(self) -> dict[str, dict[str, int]]:
        """Per protocol, how many test users each configuration was judged on."""
        return {
            protocol: {
                name: self.results[name][protocol]["num_test_users"] for name in self.configs
            }
            for protocol in self.settings.protocols
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types: settings, configurations, columns, metrics."""
        return {
            "dataset_group": self.dataset_group,
            "settings": dataclasses.asdict(self.settings),
            "configs": {
                name: {
                    "config": dataclasses.asdict(config),
                    "training_columns": self.training_columns[name],
                    "results": self.results[name],
                }
                for name, config in self.configs.items()
            },
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path`` atomically; returns the path."""
        write_json(Path(path), self.to_dict())
        return Path(path)

    def write_chart(self, path: str | Path) -> Path:
        """Draw the table as a PNG bar chart: one panel per protocol and metric.

        Drawn with matplotlib's Agg canvas directly, so no display and no global backend
        are involved.
        """
        from engine.charts import bar_chart

        panels = {
            (protocol, _SHORT_NAMES[metric]): {
                name: self.value(name, protocol, metric) for name in self.configs
            }
            for metric in self.settings.metrics
            for protocol in self.settings.protocols
        }
        title = f"{self.dataset_group}: seed {self.settings.seed}"
        return bar_chart(Path(path), panels, len(self.settings.protocols), title)


def run_experiment(
    group: DatasetGroup,
    configs: Mapping[str, SolutionConfig],
    settings: ExperimentSettings | None = None,
    show_progress: bool = False,
) -> ExperimentResult:
    """Evaluate every configuration under every protocol of ``settings`` on ``group``.

    Parameters
    ----------
    group : DatasetGroup
        Its Interactions (and Users, Items) datasets are read, never changed.
    configs : mapping of str to SolutionConfig
        The configurations to compare, by the name shown in the table.
    settings : ExperimentSettings, optional
        Protocols, metrics, seed and shares; the defaults when not given.
    show_progress : bool
        Show a progress bar over the configuration × protocol runs.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    InvalidInputError
        No configuration, a bad configuration (see
        :func:`engine.training.validate_config`) or bad settings.
    InsufficientDataError
        A configuration selects less than the service's minimum of data.
    """
    settings = (settings or ExperimentSettings()).checked()
    validated = _validated_configs(group, configs, settings)
    cache = group.interaction_cache()
    data = {
        name: with_features(select_interactions(cache, c), group, cache, c)
        for name, c in validated.items()
    }
    for selected in data.values():
        check_minimum_data(selected)

    result = ExperimentResult(
        dataset_group=group.name,
        settings=settings,
        configs=validated,
        training_columns={name: training_columns(selected) for name, selected in data.items()},
    )
    runs = [(name, protocol) for name in validated for protocol in settings.protocols]
    with progress_steps(show_progress, len(runs), "experiment", unit="run") as advance:
        for name, protocol in runs:
            advance(f"{name} / {protocol}")
            metrics = _evaluate(protocol, validated[name], data[name], settings)
            result.results.setdefault(name, {})[protocol] = _summary(metrics)
    return result


def _validated_configs(
    group: DatasetGroup, configs: Mapping[str, SolutionConfig], settings: ExperimentSettings
) -> dict[str, SolutionConfig]:
    if not configs:
        raise InvalidInputError("an experiment needs at least one solution configuration")
    return {
        name: validate_config(
            group, dataclasses.replace(config, seed=settings.seed, test_share=settings.test_share)
        )
        for name, config in configs.items()
    }


def _evaluate(
    protocol: str, config: SolutionConfig, data: InteractionData, settings: ExperimentSettings
) -> Metrics:
    """One configuration under one protocol, timed in the log."""
    started = time.perf_counter()
    recipe = get_recipe(config.recipe)()
    arguments = (recipe, data, config.hyperparameters, settings.seed)
    if protocol == "standard":
        metrics = evaluate_standard(
            *arguments, settings.test_share, metric_names=COLD_START_METRIC_NAMES
        )
    elif protocol == "new-users":
        metrics = evaluate_new_users(*arguments, settings.test_share, settings.new_user_history)
    else:
        metrics = evaluate_new_items(*arguments, settings.new_item_share)
    logger.info(
        "evaluated %s (%s) on the %s protocol in %.1f s",
        config.recipe,
        ", ".join(f"{key}={value}" for key, value in config.hyperparameters.items()) or "-",
        protocol,
        time.perf_counter() - started,
    )
    return metrics


def _summary(metrics: Metrics) -> dict[str, Any]:
    return {
        "metrics": {name: round(value, 6) for name, value in metrics.values.items()},
        "num_test_users": int(metrics.test_users.size),
        "num_test_users_skipped": metrics.num_test_users_skipped,
    }


def load_experiment(path: str | Path) -> tuple[dict[str, SolutionConfig], ExperimentSettings]:
    """Read an experiment file: its settings and its list of solution configurations.

    The file is a JSON object with the fields of :class:`ExperimentSettings` (all optional)
    and ``solutions``, a list of objects each with a ``name`` and the fields of
    :class:`~engine.training.SolutionConfig` other than ``seed`` and ``test_share``::

        {"seed": 7, "protocols": ["standard", "new-items"],
         "solutions": [{"name": "popular", "recipe": "popularity-count"},
                       {"name": "genres", "recipe": "hybrid",
                        "included_columns": {"ITEMS": ["GENRES"]}}]}

    Raises
    ------
    InvalidInputError
        A file that is not such an object, an unknown field, or a repeated name.
    """
    document = read_json(Path(path))
    if not isinstance(document, dict) or not isinstance(document.get("solutions"), list):
        raise InvalidInputError(f"{path}: an experiment is a JSON object with a 'solutions' list")
    allowed = {item.name for item in dataclasses.fields(ExperimentSettings)} | {"solutions"}
    _refuse_unknown(path, "the experiment", document, allowed)
    settings = ExperimentSettings(
        **{key: _as_tuple(value) for key, value in document.items() if key != "solutions"}
    )

    configs: dict[str, SolutionConfig] = {}
    for position, entry in enumerate(document["solutions"]):
        name, config = _config_entry(path, position, entry)
        if name in configs:
            raise InvalidInputError(f"{path}: solution name {name!r} is used twice")
        configs[name] = config
    return configs, settings


def _config_entry(path: str | Path, position: int, entry: Any) -> tuple[str, SolutionConfig]:
    where = f"solutions[{position}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InvalidInputError(f"{path}: {where} must be an object with a 'name' string")
    fields = {item.name for item in dataclasses.fields(SolutionConfig)} - set(_SHARED_FIELDS)
    _refuse_unknown(path, where, entry, fields | {"name"})
    if "recipe" not in entry:
        raise InvalidInputError(f"{path}: {where} ({entry['name']!r}) needs a 'recipe'")
    settings = {key: value for key, value in entry.items() if key != "name"}
    return entry["name"], SolutionConfig(**settings)


def _refuse_unknown(path: str | Path, where: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        shared = " (set once for the whole experiment)" if unknown[0] in _SHARED_FIELDS else ""
        raise InvalidInputError(
            f"{path}: {where} has no field {unknown[0]!r}{shared}; "
            f"it takes: {', '.join(sorted(allowed))}"
        )


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
