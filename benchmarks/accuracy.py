"""Accuracy on MovieLens 100K: every recipe side by side, and the raw libraries beside them.

Every rating is an event; Items (genres, year, title) and Users (age, gender, occupation)
are imported too, so the metadata recipes have something to learn from.

Service protocol: ``engine.training.evaluate_solution`` (10 % of users held out, their newest
10 % of events are the truth, top 25 ranked from the rest of their history), once per seed.
On the very same split (``engine.evaluation.split_users`` with the same seed) the raw
libraries run with the same hyperparameters as the recipe they stand beside, and their
metrics are computed by :mod:`benchmarks.ranking`, independently of the engine:

- implicit's ``AlternatingLeastSquares`` fitted on the training users, the held-out users
  folded in by ``recommend(..., recalculate_user=True)``, as our recipe folds them in;
- LightFM WARP without metadata, which cannot fold a user in: it is fitted on the training
  users *and* the held-out users' histories, then ranks for them.

Classic protocol: five-fold cross-validation over all ratings as positives; each fold's
users are ranked over every item they did not rate in the training folds, and NDCG@10 is
averaged over users with a rating in the fold, to be put beside published figures.

A ``tuned`` row has its hyperparameters chosen on every split anew, by a grid search on a
validation split of that split's training data (20 % of its events at random), never by
looking at the test events. A last table shows how raw implicit's NDCG@10 on the first
classic fold moves with its settings (:mod:`benchmarks.als_sensitivity`).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.als_sensitivity import sensitivity_table
from benchmarks.movielens import find_movielens, load_movielens
from benchmarks.ranking import TOP, pad, rank, ranking_metrics
from benchmarks.references import fit_implicit, fit_lightfm, lightfm_scores
from benchmarks.report import Result, Row, Table
from engine.evaluation import split_users
from engine.training import SolutionConfig, evaluate_solution
from recipes import InteractionData, get_recipe

__all__ = ["NAME", "RECIPES", "REFERENCES", "Entry", "Reference", "run"]

NAME = "accuracy"
TITLE = "MovieLens 100K: every recipe, raw implicit ALS and raw LightFM WARP"

ALS_GRID = {"regularization": (3.0, 10.0, 30.0, 100.0), "alpha": (1.0, 2.0, 5.0, 10.0, 20.0)}
NO_METADATA = {"use_user_features": False, "use_item_features": False}
PUBLISHED_NDCG_AT_10 = {"user-personalization": 0.416, "popularity-count": 0.218}
VALIDATION_SHARE = 0.2
CLASSIC_FOLDS = 5
CLASSIC_SEED = 42


@dataclass(frozen=True)
class Entry:
    """One row of the accuracy tables: a recipe and the hyperparameters it is given.

    ``grid`` names hyperparameters to choose on a validation split of each split's training
    data (see :func:`grid_search`); the others are ``hyperparameters`` or the defaults.
    """

    label: str
    recipe: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """A raw library beside the entry labelled ``twin``, whose hyperparameters it takes."""

    label: str
    library: str
    twin: str


# One line per row: adding a recipe to the tables is adding a line here.
RECIPES = (
    Entry("popularity-count", "popularity-count"),
    Entry("user-personalization", "user-personalization"),
    Entry("user-personalization, tuned", "user-personalization", grid=ALS_GRID),
    Entry("content-based", "content-based"),
    Entry("hybrid", "hybrid"),
    Entry("hybrid, no metadata", "hybrid", NO_METADATA),
    Entry("similar-items", "similar-items"),
    Entry("trending-now", "trending-now", {"trend_discovery_frequency": "1 day"}),
    Entry("personalized-ranking", "personalized-ranking"),
)
REFERENCES = (
    Reference("implicit ALS", "implicit", "user-personalization"),
    Reference("implicit ALS, tuned", "implicit", "user-personalization, tuned"),
    Reference("LightFM WARP", "lightfm", "hybrid, no metadata"),
)
SERVICE_METRICS = {
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "normalized_discounted_cumulative_gain_at_25": "NDCG@25",
    "precision_at_10": "P@10",
    "mean_reciprocal_rank_at_25": "MRR@25",
    "coverage": "coverage",
}
NDCG_AT_10 = "normalized_discounted_cumulative_gain_at_10"

# What one split found: metrics by row label, and the hyperparameters each entry used.
Found = tuple[dict[str, dict[str, float]], dict[str, dict[str, Any]]]


def run(quick: bool) -> Result:
    """Service-protocol metrics over 5 seeds and classic 5-fold NDCG@10 (quick: 1 and 1).

    Parameters
    ----------
    quick : bool
        One seed and one fold.

    Returns
    -------
    Result
        Skipped, with the reason, when MovieLens 100K is not found.
    """
    result = Result(NAME, TITLE)
    source = find_movielens()
    if source is None:
        result.skipped = "MovieLens 100K not found (set RECENGINE_SHARED_DATASETS)"
        return result
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        data = load_movielens(source, Path(directory))

    seeds = [42] if quick else [42, 43, 44, 45, 46]
    service = [_service_split(data, seed) for seed in seeds]
    _report(result, "service", f"seeds {seeds}", service)
    folds = 1 if quick else CLASSIC_FOLDS
    classic = [_classic_split(data, fold) for fold in range(folds)]
    _report(result, "classic", f"{folds} of {CLASSIC_FOLDS} folds", classic)
    result.tables.append(sensitivity_table(*_classic_fold(data, 0), seed=CLASSIC_SEED))
    return result


# -- the two protocols -------------------------------------------------------------------------


def _service_split(data: InteractionData, seed: int) -> Found:
    """Our recipes through ``evaluate_solution`` and the references on the same split."""
    split = split_users(data.user_indices, data.timestamps, 0.1, seed)
    training = data.subset(split.train)
    chosen = {entry.label: _hyperparameters(entry, training, seed) for entry in RECIPES}
    found = {
        entry.label: evaluate_solution(
            get_recipe(entry.recipe)(),
            data,
            SolutionConfig(entry.recipe, hyperparameters=chosen[entry.label], seed=seed),
        ).values
        for entry in RECIPES
    }

    histories, truths = _test_rows(data, split)
    for reference in REFERENCES:
        # LightFM cannot fold a user in, so it trains on the held-out histories as well.
        seen = (
            data.subset(split.train | split.history) if reference.library == "lightfm" else training
        )
        ranked = _reference_ranking(
            reference, seen.matrix(), split.test_users, histories, chosen[reference.twin], seed
        )
        found[reference.label] = ranking_metrics(ranked, truths, data.num_items)
    return found, chosen


def _classic_fold(
    data: InteractionData, fold: int
) -> tuple[InteractionData, sp.csr_matrix, np.ndarray]:
    """The training events of ``fold``, its test ratings, and the users who have any."""
    test = np.random.default_rng(0).permutation(len(data)) % CLASSIC_FOLDS == fold
    truths = data.subset(test).matrix()
    return data.subset(~test), truths, np.flatnonzero(np.diff(truths.indptr) > 0)


def _classic_split(data: InteractionData, fold: int) -> Found:
    """Every row trained on four folds and ranking, for each user, what the fifth holds."""
    training, truths, users = _classic_fold(data, fold)
    seen = training.matrix()
    chosen = {entry.label: _hyperparameters(entry, training, CLASSIC_SEED) for entry in RECIPES}

    found = {}
    for entry in RECIPES:
        model = get_recipe(entry.recipe)().fit(training, chosen[entry.label], seed=CLASSIC_SEED)
        ranked = rank(model.score_users(users), seen[users], 10)
        found[entry.label] = ranking_metrics(ranked, truths[users], data.num_items)
    for reference in REFERENCES:
        hyperparameters = chosen[reference.twin]
        ranked = _reference_ranking(
            reference, seen, users, seen[users], hyperparameters, CLASSIC_SEED, top=10
        )
        found[reference.label] = ranking_metrics(ranked, truths[users], data.num_items)
    return found, chosen


def _test_rows(data: InteractionData, split: Any) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """History and truth matrices of the test users (rows in ``split.test_users`` order)."""
    row_of_user = np.full(data.num_users, -1, np.int64)
    row_of_user[split.test_users] = np.arange(split.test_users.size)

    def rows(mask: np.ndarray) -> sp.csr_matrix:
        subset = data.subset(mask)
        values = np.ones(len(subset), np.float32)
        shape = (split.test_users.size, data.num_items)
        users = row_of_user[subset.user_indices]
        return sp.csr_matrix((values, (users, subset.item_indices)), shape=shape)

    return rows(split.history), rows(split.truth)


def _reference_ranking(
    reference: Reference,
    matrix: sp.csr_matrix,
    users: np.ndarray,
    histories: sp.csr_matrix,
    hyperparameters: Mapping[str, Any],
    seed: int,
    top: int = TOP,
) -> np.ndarray:
    """The raw library's top ``top`` for ``users``, their ``histories`` left out.

    implicit folds a user in from the history when the user has no training events
    (``recalculate_user``), as the service protocol needs, and uses its factors otherwise.
    """
    if reference.library == "lightfm":
        model = fit_lightfm(matrix, hyperparameters, seed)
        return rank(lightfm_scores(model, users, matrix.shape[1]), histories, top)
    model = fit_implicit(matrix, hyperparameters, seed)
    fold_in = matrix[users].nnz == 0
    ids, _ = model.recommend(
        users, histories, N=top, filter_already_liked_items=True, recalculate_user=fold_in
    )
    return pad(ids)


# -- hyperparameters ---------------------------------------------------------------------------


def _hyperparameters(entry: Entry, training: InteractionData, seed: int) -> dict[str, Any]:
    recipe = get_recipe(entry.recipe)
    given = dict(entry.hyperparameters)
    if entry.grid:
        given.update(grid_search(entry, training, seed))
    return recipe.validate_hyperparameters(given)


def grid_search(entry: Entry, training: InteractionData, seed: int) -> dict[str, Any]:
    """The point of ``entry.grid`` with the best NDCG@10 on a validation split of ``training``.

    ``VALIDATION_SHARE`` of the training events, drawn at random with ``seed``, are held out;
    the recipe is fitted on the rest and ranks, for each user, the items it did not see.
    Ties go to the earlier point of the grid.
    """
    held_out = np.random.default_rng(seed).random(len(training)) < VALIDATION_SHARE
    inner, validation = training.subset(~held_out), training.subset(held_out)
    seen, truths = inner.matrix(), validation.matrix()
    users = np.flatnonzero(np.diff(truths.indptr) > 0)
    recipe = get_recipe(entry.recipe)()

    def score(point: dict[str, Any]) -> float:
        given = recipe.validate_hyperparameters({**entry.hyperparameters, **point})
        model = recipe.fit(inner, given, seed=seed)
        ranked = rank(model.score_users(users), seen[users], 10)
        return ranking_metrics(ranked, truths[users], training.num_items)[NDCG_AT_10]

    grid = itertools.product(*entry.grid.values())
    points = [dict(zip(entry.grid, values, strict=True)) for values in grid]
    return max(points, key=score)


# -- the report --------------------------------------------------------------------------------


def _report(result: Result, protocol: str, splits: str, found: list[Found]) -> None:
    runs = {label: [metrics[label] for metrics, _ in found] for label in found[0][0]}
    tuned = [chosen for _, chosen in found]
    result.details[protocol] = {"splits": splits, "runs": runs, "hyperparameters": tuned}

    metrics = SERVICE_METRICS if protocol == "service" else {NDCG_AT_10: "NDCG@10"}
    _twins(result, protocol, runs, metrics)
    table = _metrics_table(protocol, splits, runs, metrics)
    if protocol == "classic":
        _add_published(table, runs)
    result.tables.append(table)


def _twins(
    result: Result, protocol: str, runs: dict[str, list[dict[str, float]]], metrics: Mapping
) -> None:
    """One row per metric per reference: ours beside the raw library on the same splits."""
    for reference in REFERENCES:
        for metric, short in metrics.items():
            ours = _values(runs[reference.twin], metric)
            theirs = _values(runs[reference.label], metric)
            result.rows.append(
                Row(
                    f"{protocol} {reference.twin} {short} vs {reference.label}",
                    _spread(ours),
                    _spread(theirs),
                    float(ours.mean() / theirs.mean()) if theirs.mean() else None,
                    f"max abs diff per split {np.max(np.abs(ours - theirs)):.4f}",
                )
            )


def _metrics_table(
    protocol: str, splits: str, runs: dict[str, list[dict[str, float]]], metrics: Mapping
) -> Table:
    heading = "service protocol" if protocol == "service" else "classic 5-fold protocol"
    cells = [
        [label, *(_spread(_values(runs[label], metric)) for metric in metrics)] for label in runs
    ]
    return Table(
        f"{heading}, mean ± standard deviation over {splits}",
        ["recipe or library", *metrics.values()],
        cells,
    )


def _add_published(table: Table, runs: dict[str, list[dict[str, float]]]) -> None:
    """The published NDCG@10 of each row's algorithm, where there is one, and the ratio."""
    recipe_of = {entry.label: entry.recipe for entry in RECIPES}
    recipe_of |= {reference.label: recipe_of[reference.twin] for reference in REFERENCES}
    table.columns += ["published NDCG@10", "ours / published"]
    for row in table.cells:
        published = PUBLISHED_NDCG_AT_10.get(recipe_of[row[0]])
        mean = _values(runs[row[0]], NDCG_AT_10).mean()
        row += ["", ""] if published is None else [f"{published:.3f}", f"{mean / published:.3f}"]


def _values(runs: list[dict[str, float]], metric: str) -> np.ndarray:
    return np.array([found[metric] for found in runs])


def _spread(values: np.ndarray) -> str:
    if values.size == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"
