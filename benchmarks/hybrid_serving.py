"""Hybrid serving: top-N from the artifact with numpy against ``LightFM.predict``, one model.

MovieLens 100K is imported with its Items (genres, year, title) and Users (age, gender,
occupation) and a ``hybrid`` solution is trained and deployed. LightFM is then fitted again
on the very data the version selected, with the version's hyperparameters and seed; LightFM
is deterministic for a seed on one thread, and the run checks that this twin's multiplied-out
user and item representations equal the artifact's, so both sides hold the same model.

For the same users, on the same model:

- ours, one user: ``Campaign.get_recommendations(user_id, 25)`` (score from the extracted
  embeddings and biases, leave out seen items, top 25, response objects);
- LightFM, one user: ``predict(user, every item, user_features, item_features)`` with the
  training feature matrices, seen items left out, the same top-25 selection (the one
  campaigns use, :func:`engine.serving_rules.top_n_row`);
- batch: ``HybridModel.score_users`` on blocks of users against ``predict`` on every
  (user, item) pair of the block, each followed by the same top-25 selection.

Rankings must agree for every user; the run stops with an error if one differs. The ratios
are LightFM's time over ours: above 1 means ours is faster.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from benchmarks.measure import median_seconds, percentile, time_call, turn_latencies
from benchmarks.movielens import find_movielens
from benchmarks.report import Result, Row
from datasets.movielens import convert_movielens
from engine.campaign import Campaign, create_campaign
from engine.evaluation import rank_top
from engine.serving_rules import top_n_row, top_n_rows
from engine.store import Store
from engine.training import create_solution, select_interactions, with_features
from recipes import get_recipe
from recipes.hybrid import _metadata, _train, _with_identity

__all__ = ["NAME", "run"]

NAME = "hybrid_serving"
TITLE = "hybrid top-25 from the artifact (numpy) vs LightFM.predict on the same model"
TOP = 25
BLOCK = 100
TARGET_RATIO = 10.0
RUN = 25  # users a side serves before the other side's turn


def run(quick: bool) -> Result:
    """Per-user latency and batch time of both sides, after checking identical rankings.

    Parameters
    ----------
    quick : bool
        Fewer training epochs and 200 timed users instead of every user.

    Returns
    -------
    Result
        Skipped, with the reason, when MovieLens 100K is not in ``../shared/datasets``.

    Raises
    ------
    AssertionError
        The twin is not the same model, or a user's top 25 differs between the two sides.
    """
    hyperparameters = {"no_components": 32, "epochs": 5 if quick else 20}
    result = Result(NAME, TITLE, details={"hyperparameters": hyperparameters})
    source = find_movielens()
    if source is None:
        result.skipped = "MovieLens 100K not found (set RECENGINE_SHARED_DATASETS)"
        return result
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        campaign = _campaign(source, Path(directory), hyperparameters)
        twin = _lightfm_twin(campaign)
        users = np.arange(len(campaign.user_ids()))
        timed = users[:: max(1, users.size // 200)] if quick else users
        _check_rankings(campaign, twin, users, result)
        # LightFM.predict runs on one thread; so does BLAS for our matrix products.
        with threadpool_limits(1, "blas"):
            _single_user(campaign, twin, timed, result)
            _batch(campaign, twin, users, result)
    return result


def _campaign(source: Path, directory: Path, hyperparameters: dict[str, Any]) -> Campaign:
    paths = convert_movielens(source, directory / "csv")
    group = Store(directory / "store").create_dataset_group("movies")
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type])
    solution = create_solution(group, "hybrid", "hybrid", hyperparameters=hyperparameters)
    return create_campaign(group, "hybrid", solution.train())


class _Twin:
    """LightFM refitted on the version's data, its feature matrices and the seen items."""

    def __init__(self, lightfm: Any, users: sp.csr_matrix, items: sp.csr_matrix, seen: Any):
        self.lightfm = lightfm
        self.user_features = users
        self.item_features = items
        self.seen = seen
        self.all_items = np.arange(items.shape[0], dtype=np.int32)

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``LightFM.predict`` on every item for each of ``users``, shape (users, items)."""
        pairs_users = np.repeat(users.astype(np.int32), self.all_items.size)
        pairs_items = np.tile(self.all_items, users.size)
        predicted = self.lightfm.predict(
            pairs_users,
            pairs_items,
            item_features=self.item_features,
            user_features=self.user_features,
            num_threads=1,
        )
        return predicted.reshape(users.size, self.all_items.size)


def _lightfm_twin(campaign: Campaign) -> _Twin:
    """Fit LightFM again as the version did and check it is the same model."""
    version = campaign.version
    config = version.manifest["config"]
    hyperparameters = config["hyperparameters"]
    group = Store(version.path.parents[4]).dataset_group(version.manifest["dataset_group"])
    cache = group.interaction_cache()
    solution_config = _solution_config(config)
    data = with_features(select_interactions(cache, solution_config), group, cache, solution_config)

    recipe = get_recipe("hybrid")()
    weights = data.matrix(recipe.event_weights(data, hyperparameters))
    weights.data[weights.data < 0] = 0.0
    weights.eliminate_zeros()
    users = _metadata(data, "user", hyperparameters)
    items = _metadata(data, "item", hyperparameters)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*OpenMP.*", category=UserWarning)
        lightfm = _train(weights, users, items, hyperparameters, config["seed"], False)

    model, arrays = version.load_model()
    user_features, item_features = _with_identity(users), _with_identity(items)
    _check_same_model(model, lightfm, user_features, item_features, weights)
    seen = sp.csr_matrix(
        (
            np.ones(np.asarray(arrays["seen_indices"]).size, np.float32),
            np.asarray(arrays["seen_indices"]),
            np.asarray(arrays["seen_indptr"]),
        ),
        shape=(len(arrays["user_ids"]), len(arrays["item_ids"])),
    )
    return _Twin(lightfm, user_features, item_features, seen)


def _solution_config(config: dict[str, Any]) -> Any:
    from engine.training import SolutionConfig

    return SolutionConfig(**config)


def _check_same_model(
    model: Any, lightfm: Any, users: sp.csr_matrix, items: sp.csr_matrix, weights: sp.csr_matrix
) -> None:
    warm = np.diff(weights.indptr) > 0
    twin_users = np.asarray(users @ lightfm.user_embeddings, np.float32)
    twin_items = np.asarray(items @ lightfm.item_embeddings, np.float32)
    assert np.array_equal(model.user_embeddings[warm], twin_users[warm]), "user embeddings differ"
    assert np.array_equal(model.item_embeddings, twin_items), "item embeddings differ"
    assert np.array_equal(model.item_biases, items @ lightfm.item_biases), "item biases differ"


def _check_rankings(campaign: Campaign, twin: _Twin, users: np.ndarray, into: Result) -> None:
    """Every user's top 25 from the campaign equals the one from LightFM.predict.

    Where a position holds another item on each side, both sides must score the two items
    equally to float32 rounding (a tie that each side's order of summation breaks its own
    way); anything else stops the run.
    """
    ids = campaign.user_ids()
    model, arrays = campaign.version.load_model()
    item_ids = np.asarray(arrays["item_ids"])
    users_with_ties, tied_positions, gaps = 0, 0, []
    for start in range(0, users.size, BLOCK):
        block = users[start : start + BLOCK]
        their_scores = twin.scores(block)
        our_scores = model.score_users(block)
        theirs = rank_top(their_scores, twin.seen[block], TOP)
        for row, user in enumerate(block):
            answer = campaign.get_recommendations(ids[user], TOP)
            ours = np.array([np.flatnonzero(item_ids == item.item_id)[0] for item in answer.items])
            ties = _tied_positions(ours, theirs[row], our_scores[row], their_scores[row])
            assert ties is not None, f"user {ids[user]}: rankings differ"
            users_with_ties += ties > 0
            tied_positions += ties
            served = np.array([item.score for item in answer.items], dtype=np.float64)
            gaps.append(np.abs(served - their_scores[row, ours]).max())
    into.details.update(
        users_compared=int(users.size),
        users_with_float_ties=int(users_with_ties),
        tied_positions=int(tied_positions),
        max_abs_score_difference=float(np.max(gaps)),
    )
    into.rows.append(
        Row(
            f"top-{TOP} rankings of all {users.size} users",
            "identical",
            "identical",
            None,
            f"{users_with_ties} users with {tied_positions} positions swapped between items "
            f"scored equal to float32 rounding; max |score difference| {np.max(gaps):.1e}",
        )
    )


def _tied_positions(
    ours: np.ndarray, theirs: np.ndarray, our_scores: np.ndarray, their_scores: np.ndarray
) -> int | None:
    """Positions where the rankings differ only by a float32 tie; ``None`` if one is not."""
    differing = np.flatnonzero(ours != theirs)
    for position in differing:
        first, second = ours[position], theirs[position]
        for scores in (our_scores, their_scores):
            tolerance = 8 * np.spacing(np.float32(abs(scores[first])))
            if abs(float(scores[first]) - float(scores[second])) > tolerance:
                return None
    return int(differing.size)


def _single_user(campaign: Campaign, twin: _Twin, users: np.ndarray, into: Result) -> None:
    """Median and p99 latency of one user's scores, top 25 and whole request."""
    ids = campaign.user_ids()
    model = campaign.version.load_model()[0]

    def top(scores: np.ndarray, user: int) -> np.ndarray:
        return top_n_row(_without_seen(scores[0], twin.seen, user), TOP)

    pairs = {
        "scores of every item": (
            lambda u: model.score_users(np.array([u])),
            lambda u: twin.scores(np.array([u])),
        ),
        f"top {TOP}, seen items left out": (
            lambda u: top(model.score_users(np.array([u])), u),
            lambda u: top(twin.scores(np.array([u])), u),
        ),
        f"campaign request vs predict + top {TOP}": (
            lambda u: campaign.get_recommendations(ids[u], TOP),
            lambda u: top(twin.scores(np.array([u])), u),
        ),
    }
    scorers = {
        (measure, side): scorer
        for measure, pair in pairs.items()
        for side, scorer in zip(("ours", "lightfm"), pair, strict=True)
    }
    timings = turn_latencies(scorers, users, warm_up=20, run=RUN)
    into.details["single_user_ms"] = {
        measure: {
            side: {
                "median": median_seconds(timings[measure, side]) * 1e3,
                "p99": percentile(timings[measure, side], 0.99) * 1e3,
            }
            for side in ("ours", "lightfm")
        }
        for measure in pairs
    }
    for measure in pairs:
        for label, share in (("median", 0.5), ("p99", 0.99)):
            mine = percentile(timings[measure, "ours"], share)
            reference = percentile(timings[measure, "lightfm"], share)
            into.rows.append(
                Row(
                    f"one user, {measure}, {label}",
                    f"{mine * 1e3:.3f} ms",
                    f"{reference * 1e3:.3f} ms",
                    reference / mine,
                    _verdict(reference / mine, f"{users.size} calls"),
                )
            )


def _without_seen(scores: np.ndarray, seen: sp.csr_matrix, user: int) -> np.ndarray:
    """A float32 copy of one user's scores with their seen items at minus infinity."""
    copy = np.array(scores, dtype=np.float32)
    copy[seen.indices[seen.indptr[user] : seen.indptr[user + 1]]] = -np.inf
    return copy


def _batch(campaign: Campaign, twin: _Twin, users: np.ndarray, into: Result) -> None:
    """Every user in blocks: scores alone, then scores and the top 25."""
    model = campaign.version.load_model()[0]
    blocks = [users[start : start + BLOCK] for start in range(0, users.size, BLOCK)]
    pairs = {
        "scores": (model.score_users, twin.scores),
        f"top {TOP}, seen items left out": (
            lambda block: _top_rows(model.score_users(block), twin.seen[block]),
            lambda block: _top_rows(twin.scores(block), twin.seen[block]),
        ),
    }
    into.details["batch_seconds"] = {}
    for measure, (ours, theirs) in pairs.items():
        mine = time_call(lambda score=ours: [score(block) for block in blocks])[0]
        reference = time_call(lambda score=theirs: [score(block) for block in blocks])[0]
        into.details["batch_seconds"][measure] = {"ours": mine, "lightfm": reference}
        into.rows.append(
            Row(
                f"all {users.size} users x {twin.all_items.size} items, {measure}",
                f"{mine:.3f} s",
                f"{reference:.3f} s",
                reference / mine,
                _verdict(reference / mine, f"blocks of {BLOCK} users"),
            )
        )


def _top_rows(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """The top 25 of every row with the row's seen items left out, as batch jobs select."""
    scores = np.array(scores, dtype=np.float32)
    scores[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
    return top_n_rows(scores, TOP)[0]


def _verdict(ratio: float, note: str) -> str:
    reached = "at least" if ratio >= TARGET_RATIO else "below"
    return f"{note}; LightFM time / ours, {reached} the {TARGET_RATIO:.0f}x target"
