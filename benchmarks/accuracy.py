"""Accuracy on MovieLens 100K: our recipes beside raw implicit and a numpy popularity count.

Service protocol: ``engine.training.evaluate_solution`` (10 % of users held out, their newest
10 % of events are the truth, top 25 ranked from the rest of their history) for
``popularity-count`` and ``user-personalization``, over several seeds. Beside them, on the
same split (``engine.evaluation.split_users`` with the same seed): implicit's
``AlternatingLeastSquares`` fitted on the training users' matrix with the same
hyperparameters, held-out users folded in with ``recommend(..., recalculate_user=True)``, and
a distinct-user count ranked with numpy; their metrics are computed here, independently of
``engine.evaluation``.

Classic protocol: five-fold cross-validation over all ratings as positives; each fold's
users are ranked over every item they did not rate in the training folds, and NDCG@10 is
averaged over users with a rating in the fold, to be put beside published figures.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.report import Result, Row
from benchmarks.training_overhead import fit_implicit
from datasets.movielens import convert_movielens
from engine.evaluation import split_users
from engine.store import Store
from engine.training import SolutionConfig, evaluate_solution, select_interactions
from recipes import InteractionData, Recipe, get_recipe

__all__ = ["MOVIELENS", "NAME", "run"]

_REPO = Path(__file__).resolve().parents[1]
NAME = "accuracy"
TITLE = "MovieLens 100K: our recipes vs raw implicit ALS and numpy popularity"
# ``../shared/datasets`` beside the checkout, or where RECENGINE_SHARED_DATASETS points.
MOVIELENS = (
    Path(os.environ.get("RECENGINE_SHARED_DATASETS", "") or _REPO.parent / "shared" / "datasets")
    / "ml-100k"
)
HYPERPARAMETERS = {"factors": 64, "regularization": 0.01, "iterations": 15, "alpha": 10.0}
PUBLISHED_NDCG_AT_10 = {"user-personalization": 0.416, "popularity-count": 0.218}
METRICS = (
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_10",
    "mean_reciprocal_rank_at_25",
    "coverage",
)
SHORT = {
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "normalized_discounted_cumulative_gain_at_25": "NDCG@25",
    "precision_at_10": "P@10",
    "mean_reciprocal_rank_at_25": "MRR@25",
    "coverage": "coverage",
}
TOP = 25


def run(quick: bool) -> Result:
    """Service-protocol metrics over 5 seeds and classic 5-fold NDCG@10 (quick: 1 and 1).

    Parameters
    ----------
    quick : bool
        One seed and one fold.

    Returns
    -------
    Result
        Skipped, with the reason, when MovieLens 100K is not in ``../shared/datasets``.
    """
    result = Result(NAME, TITLE, details={"hyperparameters": HYPERPARAMETERS})
    if not (MOVIELENS / "u.data").is_file():
        result.skipped = f"MovieLens 100K not found at {MOVIELENS.resolve()}"
        return result
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        data = load_movielens(Path(directory))
    seeds = [42] if quick else [42, 43, 44, 45, 46]
    _service_protocol(data, seeds, result)
    _classic_protocol(data, 1 if quick else 5, result)
    return result


def load_movielens(directory: Path) -> InteractionData:
    """Convert and import MovieLens 100K into a store under ``directory``; every rating."""
    paths = convert_movielens(MOVIELENS, directory / "csv")
    group = Store(directory / "store").create_dataset_group("movielens")
    group.create_dataset("INTERACTIONS", paths["interactions_schema"])
    group.import_csv("INTERACTIONS", paths["interactions"])
    return select_interactions(group.interaction_cache(), SolutionConfig("popularity-count"))


# -- the service's protocol --------------------------------------------------------------------


def _service_protocol(data: InteractionData, seeds: list[int], result: Result) -> None:
    runs: dict[str, list[dict[str, float]]] = {}
    for seed in seeds:
        for label, metrics in _one_seed(data, seed).items():
            runs.setdefault(label, []).append(metrics)
    result.details["service_protocol"] = {"seeds": seeds, "runs": runs}

    pairs = (("popularity-count", "numpy popularity"), ("user-personalization", "implicit ALS"))
    for ours, reference in pairs:
        for metric in METRICS:
            mine, theirs = _values(runs[ours], metric), _values(runs[reference], metric)
            result.rows.append(
                Row(
                    f"service {ours} {SHORT[metric]} vs {reference}",
                    _spread(mine),
                    _spread(theirs),
                    float(np.mean(mine) / np.mean(theirs)) if np.mean(theirs) else None,
                    f"max |diff| per seed {np.max(np.abs(mine - theirs)):.4f}",
                )
            )


def _one_seed(data: InteractionData, seed: int) -> dict[str, dict[str, float]]:
    found = {}
    for recipe_name in ("popularity-count", "user-personalization"):
        recipe = get_recipe(recipe_name)()
        config = SolutionConfig(
            recipe_name,
            hyperparameters=recipe.validate_hyperparameters(
                HYPERPARAMETERS if recipe_name == "user-personalization" else {}
            ),
            seed=seed,
        )
        found[recipe_name] = evaluate_solution(recipe, data, config).values

    split = split_users(data.user_indices, data.timestamps, 0.1, seed)
    histories, truths = _test_rows(data, split)
    training = data.subset(split.train).matrix()
    found["implicit ALS"] = ranking_metrics(
        _implicit_rankings(training, histories, seed), truths, data.num_items
    )
    found["numpy popularity"] = ranking_metrics(
        _popularity_rankings(training, histories), truths, data.num_items
    )
    return found


def _test_rows(data: InteractionData, split: Any) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """History and truth matrices of the test users (rows in ``split.test_users`` order)."""
    row_of_user = np.full(data.num_users, -1, np.int64)
    row_of_user[split.test_users] = np.arange(split.test_users.size)
    shape = (split.test_users.size, data.num_items)

    def rows(mask: np.ndarray) -> sp.csr_matrix:
        values = np.ones(int(mask.sum()), np.float32)
        users, items = row_of_user[data.user_indices[mask]], data.item_indices[mask]
        matrix = sp.csr_matrix((values, (users, items)), shape=shape)
        matrix.sum_duplicates()
        return matrix

    return rows(split.history), rows(split.truth)


def _implicit_rankings(training: sp.csr_matrix, histories: sp.csr_matrix, seed: int) -> np.ndarray:
    model = fit_implicit(training, UserPersonalizationDefaults.values(), seed)
    users = np.arange(histories.shape[0])
    ids, _ = model.recommend(
        users, histories, N=TOP, filter_already_liked_items=True, recalculate_user=True
    )
    return ids


def _popularity_rankings(training: sp.csr_matrix, histories: sp.csr_matrix) -> np.ndarray:
    """Items by distinct training users, ties to the lower index, history excluded."""
    counts = np.bincount(training.indices, minlength=training.shape[1]).astype(np.float64)
    return _rank(np.tile(counts, (histories.shape[0], 1)), histories, TOP)


def _rank(scores: np.ndarray, excluded: sp.csr_matrix, top: int) -> np.ndarray:
    """Top ``top`` per row of ``scores``, excluded items removed, ties to the lower index."""
    scores = np.array(scores, dtype=np.float64)
    scores[excluded.nonzero()] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return np.where(np.take_along_axis(scores, order, 1) > -np.inf, order, -1)


class UserPersonalizationDefaults:
    """The recipe's hyperparameters as validated, so that both sides use identical values."""

    @staticmethod
    def values() -> dict[str, Any]:
        """Validated ``HYPERPARAMETERS`` of ``user-personalization``."""
        return get_recipe("user-personalization").validate_hyperparameters(HYPERPARAMETERS)


def ranking_metrics(ranked: np.ndarray, truths: sp.csr_matrix, num_items: int) -> dict[str, float]:
    """NDCG@10/25, precision@10, MRR@25 and coverage of rankings, written independently.

    Parameters
    ----------
    ranked : ndarray of shape (users, 25)
        Item indices best first; ``-1`` pads a short list.
    truths : csr_matrix of shape (users, items)
        Relevant items per user; users without any are left out of the means.
    num_items : int
        Catalogue size, for coverage.

    Returns
    -------
    dict of str to float
        Keyed by the service's metric names.
    """
    keep = np.diff(truths.indptr) > 0
    ranked, truths = ranked[keep], truths[keep]
    hits = np.array([np.isin(row, truths[i].indices) for i, row in enumerate(ranked)])
    hits &= ranked >= 0
    relevant = np.diff(truths.indptr)
    first = np.where(hits.any(1), hits.argmax(1) + 1, np.inf)
    return {
        "normalized_discounted_cumulative_gain_at_10": _ndcg(hits, relevant, 10),
        "normalized_discounted_cumulative_gain_at_25": _ndcg(hits, relevant, 25),
        "precision_at_10": float(hits[:, :10].mean()),
        "mean_reciprocal_rank_at_25": float(np.mean(1.0 / first)),
        "coverage": np.unique(ranked[ranked >= 0]).size / num_items,
    }


def _ndcg(hits: np.ndarray, relevant: np.ndarray, cutoff: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, cutoff + 2))
    gains = hits[:, :cutoff] @ discounts
    ideal = np.cumsum(discounts)[np.minimum(relevant, cutoff) - 1]
    return float(np.mean(gains / ideal))


def _values(runs: list[dict[str, float]], metric: str) -> np.ndarray:
    return np.array([found[metric] for found in runs])


def _spread(values: np.ndarray) -> str:
    if values.size == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


# -- the classic protocol ----------------------------------------------------------------------


def _classic_protocol(data: InteractionData, folds: int, result: Result) -> None:
    fold_of_event = np.random.default_rng(0).permutation(len(data)) % 5
    scores: dict[str, list[float]] = {}
    for fold in range(folds):
        for label, value in _one_fold(data, fold_of_event == fold).items():
            scores.setdefault(label, []).append(value)
    result.details["classic_protocol"] = {"folds_run": folds, "ndcg_at_10": scores}

    for label in ("user-personalization", "popularity-count"):
        mine = np.array(scores[label])
        result.rows.append(
            Row(
                f"classic 5-fold {label} NDCG@10 ({folds} fold{'s' * (folds > 1)})",
                _spread(mine),
                f"{PUBLISHED_NDCG_AT_10[label]:.3f} published",
                float(mine.mean() / PUBLISHED_NDCG_AT_10[label]),
            )
        )
    mine, theirs = np.array(scores["user-personalization"]), np.array(scores["implicit ALS"])
    result.rows.append(
        Row(
            "classic 5-fold ALS NDCG@10 vs implicit",
            _spread(mine),
            _spread(theirs),
            float(mine.mean() / theirs.mean()),
        )
    )


def _one_fold(data: InteractionData, test: np.ndarray) -> dict[str, float]:
    training = data.subset(~test)
    seen = training.matrix()
    truths = data.subset(test).matrix()
    users = np.flatnonzero(np.diff(truths.indptr) > 0)
    found = {}
    for recipe_name in ("user-personalization", "popularity-count"):
        model = _fit(get_recipe(recipe_name)(), training)
        ranked = _rank(model.score_users(users), seen[users], 10)
        found[recipe_name] = ranking_metrics(_pad(ranked), truths[users], data.num_items)
    reference = fit_implicit(seen, UserPersonalizationDefaults.values(), seed=42)
    ids, _ = reference.recommend(users, seen[users], N=10, filter_already_liked_items=True)
    found["implicit ALS"] = ranking_metrics(_pad(ids), truths[users], data.num_items)
    return {
        name: metrics["normalized_discounted_cumulative_gain_at_10"]
        for name, metrics in found.items()
    }


def _fit(recipe: Recipe, training: InteractionData) -> Any:
    given = HYPERPARAMETERS if recipe.name == "user-personalization" else {}
    return recipe.fit(training, recipe.validate_hyperparameters(given), seed=42)


def _pad(ranked: np.ndarray) -> np.ndarray:
    """Rankings padded with -1 to 25 columns, as :func:`ranking_metrics` expects."""
    padded = np.full((ranked.shape[0], TOP), -1, np.int64)
    padded[:, : ranked.shape[1]] = ranked
    return padded
