"""Serving: ``Campaign.get_recommendations`` against implicit's ``recommend`` and the bound.

A synthetic artifact (users × items, 20 events per user, ALS with 64 factors trained for
two iterations: serving cost does not depend on how well the factors were fitted) is
deployed as a campaign. On the very same factors and seen-item matrix:

- ours: ``get_recommendations(user_id, 25)`` (id lookup, score, remove seen items, top 25,
  build the response objects);
- implicit: ``model.recommend(userid, user_items[userid], N=25)`` on an
  ``AlternatingLeastSquares`` holding our factors (seen items filtered);
- numpy top 25: ``user_factors[u] @ item_factors.T`` and ``argpartition`` for the top 25
  (no filtering, no ids);
- the bound: the matrix product ``user_factors[u] @ item_factors.T`` alone, the least any
  scorer of these factors must do.

Every scorer runs with BLAS on one thread (implicit asks for it, and on this shared 2-core
machine a two-thread call for one user mostly waits), so the ratios compare the work done.

Batch throughput, in blocks of 1000 users: ours scores the block at once and ranks it with
the serving rules (``score_users`` then ``rank_block``, what a batch job does before it
writes JSON; whole jobs are measured by :mod:`benchmarks.batch_serving`); implicit's
``recommend`` takes the block's array of users; numpy top 25 is the block's matrix product
with ``argpartition`` per row, and the bound the block's matrix product alone. implicit ranks
a block on every core (its ``topk`` runs its own threads, ``num_threads=0``) while ours runs
on the calling thread; a batch job gives each core a block, and
:mod:`benchmarks.batch_serving` compares whole jobs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from benchmarks.measure import median_seconds, percentile, time_call, turn_latencies
from benchmarks.report import Result, Row
from benchmarks.synthetic import INTERACTIONS_SCHEMA, skewed_interactions, write_csv
from engine.campaign import Campaign, create_campaign
from engine.store import Store
from engine.training import create_solution

__all__ = ["NAME", "implicit_twin", "numpy_bound", "run", "synthetic_campaign"]

NAME = "serving"
TITLE = "get_recommendations vs implicit recommend and the numpy bound"
TOP = 25
RUN = 25  # users a scorer serves before the next scorer's turn
BLOCK = 1000
EVENTS_PER_USER = 20
REFERENCES = ("implicit", "numpy top 25", "matrix product")


def run(quick: bool) -> Result:
    """Single-user latency (median, p99) and batch throughput of the three scorers.

    Parameters
    ----------
    quick : bool
        20k users × 5k items instead of 100k × 20k, fewer calls.

    Returns
    -------
    Result
        Ratios are ours / reference for latency and ours / reference for throughput.
    """
    users, items = (20_000, 5_000) if quick else (100_000, 20_000)
    calls, batch = (1_000, 2_000) if quick else (3_000, 10_000)
    result = Result(NAME, TITLE, details={"users": users, "items": items, "factors": 64})
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        campaign = synthetic_campaign(Path(directory), users, items)
        single, blocks = _scorers(campaign, *implicit_twin(campaign))
        sample = np.random.default_rng(1).choice(users, size=max(calls, batch), replace=False)
        with threadpool_limits(1, "blas"):
            _single_user(single, sample[:calls], result)
            _batch(blocks, sample[:batch], result)
    return result


def synthetic_campaign(directory: Path, users: int, items: int) -> Campaign:
    """A campaign on skewed synthetic events, 20 per user, in a store under ``directory``.

    ALS with 64 factors trained for two iterations: serving cost does not depend on the fit.
    """
    interactions = skewed_interactions(users, items, users * EVENTS_PER_USER, seed=3)
    group = Store(directory / "store").create_dataset_group("serving")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_csv(interactions, directory / "i.csv"))
    hyperparameters = {"factors": 64, "iterations": 2}
    version = create_solution(group, "als", "user-personalization", hyperparameters=hyperparameters)
    return create_campaign(group, "serving", version.train())


def implicit_twin(campaign: Campaign) -> tuple[Any, sp.csr_matrix]:
    """An implicit ALS holding the campaign's factors, and the seen-item matrix."""
    from implicit.cpu.als import AlternatingLeastSquares

    model, arrays = campaign.version.load_model()
    twin = AlternatingLeastSquares(factors=model.user_factors.shape[1], dtype=np.float32)
    twin.user_factors = np.ascontiguousarray(model.user_factors)
    twin.item_factors = np.ascontiguousarray(model.item_factors)
    shape = (len(arrays["user_ids"]), len(arrays["item_ids"]))
    indices = np.asarray(arrays["seen_indices"])
    seen = sp.csr_matrix(
        (np.ones(indices.size, np.float32), indices, np.asarray(arrays["seen_indptr"])), shape
    )
    return twin, seen


def numpy_bound(user_factors: np.ndarray, item_factors: np.ndarray, top: int) -> np.ndarray:
    """Top ``top`` item indices per row of ``user_factors @ item_factors.T``, best first.

    Parameters
    ----------
    user_factors : ndarray of shape (users, factors)
    item_factors : ndarray of shape (items, factors)
    top : int

    Returns
    -------
    ndarray of shape (users, top)
    """
    scores = np.atleast_2d(user_factors @ item_factors.T)
    best = np.argpartition(-scores, top, axis=1)[:, :top]
    order = np.argsort(-np.take_along_axis(scores, best, 1), axis=1)
    return np.take_along_axis(best, order, 1)


Scorers = dict[str, Callable[[Any], Any]]


def _scorers(campaign: Campaign, reference: Any, seen: sp.csr_matrix) -> tuple[Scorers, Scorers]:
    """Ours, implicit and the numpy bound on the same factors: for one user, for a block."""
    ids = campaign.user_ids()
    factors, items = reference.user_factors, reference.item_factors
    single = {
        "ours": lambda u: campaign.get_recommendations(ids[u], TOP),
        "implicit": lambda u: reference.recommend(u, seen[u], N=TOP),
        "numpy top 25": lambda u: numpy_bound(factors[u], items, TOP),
        "matrix product": lambda u: factors[u] @ items.T,
    }
    blocks = {
        "ours": lambda b: campaign.rules.rank_block(
            campaign.score_users([ids[u] for u in b.tolist()]), TOP
        ),
        "implicit": lambda b: reference.recommend(b, seen[b], N=TOP),
        "numpy top 25": lambda b: numpy_bound(factors[b], items, TOP),
        "matrix product": lambda b: factors[b] @ items.T,
    }
    return single, blocks


def _single_user(scorers: Scorers, users: np.ndarray, into: Result) -> None:
    timings = turn_latencies(scorers, users, run=RUN)
    into.details["single_user_ms"] = {
        name: {"median": median_seconds(t) * 1e3, "p99": percentile(t, 0.99) * 1e3}
        for name, t in timings.items()
    }
    for reference_name in REFERENCES:
        for label, share in (("median", 0.5), ("p99", 0.99)):
            ours, theirs = (
                percentile(timings["ours"], share),
                percentile(timings[reference_name], share),
            )
            into.rows.append(
                Row(
                    f"one user {label} latency vs {reference_name}",
                    f"{ours * 1e3:.3f} ms",
                    f"{theirs * 1e3:.3f} ms",
                    ours / theirs,
                    f"{users.size} calls",
                )
            )


def _batch(scorers: Scorers, users: np.ndarray, into: Result) -> None:
    seconds = {
        name: time_call(lambda b=score: _blocks(b, users))[0] for name, score in scorers.items()
    }
    into.details["batch_users_per_s"] = {name: users.size / s for name, s in seconds.items()}
    for reference_name in REFERENCES:
        into.rows.append(
            Row(
                f"batch of {users.size:,} users vs {reference_name}",
                f"{users.size / seconds['ours']:,.0f} users/s",
                f"{users.size / seconds[reference_name]:,.0f} users/s",
                seconds[reference_name] / seconds["ours"],
                "throughput ratio (below 1 is slower)",
            )
        )


def _blocks(score: Any, users: np.ndarray) -> None:
    for start in range(0, users.size, BLOCK):
        score(users[start : start + BLOCK])
