"""Scale: a seeded synthetic dataset of MovieLens 25M proportions, end to end.

25 million interactions, 160,000 users and 60,000 items with power-law item popularity
(see :mod:`benchmarks.synthetic`). Each step is timed and its peak resident memory taken
(the high-water mark is reset before the step; see :class:`benchmarks.measure.PeakMemory`):

1. write the CSV (setup, not ours);
2. ``import_csv`` into a fresh store;
3. build the interaction cache (integer codes);
4. ``Solution.train`` of ``user-personalization`` (64 factors, 15 iterations), which
   evaluates with the service's protocol (one fit on 90 % of users) and then fits on all;
5. a batch job: ``get_recommendations`` for a sample of users, extrapolated to all.

``--scale`` shrinks every size by the same share; the quick suite runs 4 % (1M).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.measure import PeakMemory, time_call
from benchmarks.report import Result, Row
from benchmarks.synthetic import INTERACTIONS_SCHEMA, skewed_interactions, write_csv
from engine.campaign import create_campaign
from engine.store import DatasetGroup, Store
from engine.training import create_solution

__all__ = ["NAME", "run"]

NAME = "scale"
TITLE = "synthetic MovieLens-25M-shaped data end to end: time and peak memory per step"
FULL = {"interactions": 25_000_000, "users": 160_000, "items": 60_000}
QUICK_SCALE = 0.04
BATCH_SAMPLE = 5_000


def run(quick: bool, scale: float = 1.0) -> Result:
    """Time and peak memory of import, cache, train (evaluate + fit) and a batch job.

    Parameters
    ----------
    quick : bool
        Run at 4 % of the full size (1M interactions), whatever ``scale`` says.
    scale : float
        Share of the full size (25M interactions, 160k users, 60k items).

    Returns
    -------
    Result
        One row per step: seconds, peak MiB and rows per second where it applies.
    """
    share = QUICK_SCALE if quick else scale
    sizes = {name: max(1, int(round(value * share))) for name, value in FULL.items()}
    result = Result(NAME, TITLE, details={"sizes": sizes, "share_of_full": share, "steps": {}})
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        _steps(Path(directory), sizes, result)
    return result


def _steps(directory: Path, sizes: dict[str, int], result: Result) -> None:
    path = directory / "interactions.csv"
    _step(
        result,
        "generate + write CSV (setup)",
        sizes["interactions"],
        lambda: write_csv(
            skewed_interactions(sizes["users"], sizes["items"], sizes["interactions"], seed=25),
            path,
        ),
    )
    group = Store(directory / "store").create_dataset_group("scale")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    _step(
        result, "import_csv", sizes["interactions"], lambda: group.import_csv("INTERACTIONS", path)
    )
    cache = _step(result, "interaction cache", sizes["interactions"], group.interaction_cache)
    version = _step(result, "train (evaluate + fit)", sizes["interactions"], lambda: _train(group))
    result.details["steps"]["train (evaluate + fit)"]["timings"] = version.manifest["timings"]
    result.details["metrics"] = version.metrics
    _batch_job(group, version, len(cache.user_ids), result)


def _step(result: Result, label: str, rows: int, function: Any) -> Any:
    with PeakMemory() as peak:
        seconds, value = time_call(function)
    result.details["steps"][label] = {"seconds": seconds, "peak_mib": peak.mib}
    result.rows.append(
        Row(
            label,
            f"{seconds:.1f} s",
            f"{peak.mib:,.0f} MiB peak",
            None,
            f"{rows / seconds:,.0f} rows/s",
        )
    )
    return value


def _train(group: DatasetGroup) -> Any:
    hyperparameters = {"factors": 64, "iterations": 15}
    solution = create_solution(
        group, "als", "user-personalization", hyperparameters=hyperparameters
    )
    return solution.train()


def _batch_job(group: DatasetGroup, version: Any, num_users: int, result: Result) -> None:
    """Recommendations for a sample of users, extrapolated to every user."""
    campaign = _step(
        result, "campaign load", num_users, lambda: create_campaign(group, "batch", version)
    )
    ids = campaign.user_ids()
    sample = np.random.default_rng(0).choice(
        num_users, size=min(BATCH_SAMPLE, num_users), replace=False
    )
    with PeakMemory() as peak:
        seconds, _ = time_call(lambda: [campaign.get_recommendations(ids[u], 25) for u in sample])
    per_user = seconds / sample.size
    label = f"batch job ({sample.size:,} users sampled)"
    result.details["steps"][label] = {
        "seconds": seconds,
        "peak_mib": peak.mib,
        "all_users_s": per_user * num_users,
    }
    result.rows.append(
        Row(
            label,
            f"{seconds:.1f} s",
            f"{peak.mib:,.0f} MiB peak",
            None,
            f"{1 / per_user:,.0f} users/s; all {num_users:,} users ≈ {per_user * num_users:.0f} s",
        )
    )
