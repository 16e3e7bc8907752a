"""Scale: a seeded synthetic dataset of MovieLens 25M proportions, end to end.

25 million interactions, 160,000 users and 60,000 items with power-law item popularity
(see :mod:`benchmarks.synthetic`). Each step is timed and its peak resident memory taken
(the high-water mark is reset before the step; see :class:`benchmarks.measure.PeakMemory`),
and beside it, in the same run, the least a library would do for that step:

1. write the CSV (setup, not ours; no reference);
2. ``import_csv`` into a fresh store, beside ``pyarrow.csv.read_csv`` of the same file
   (typed, no validation, no write);
3. build the interaction cache, beside ``pyarrow.parquet.read_table`` of the segments it
   reads (no encoding, no sort, no write);
4. ``Solution.train`` of ``user-personalization`` (64 factors, 15 iterations), which
   evaluates with the service's protocol (one fit on 90 % of users, then ranking the
   held-out users) and then fits on all; beside raw implicit fitted once on the full
   matrix, and the final fit alone beside that same implicit fit;
5. a batch job: ``run_batch_inference`` over every user (JSON Lines in and out, blocked
   scoring), beside numpy's top 25 (matrix product and ``argpartition`` in blocks) for the
   same users, which writes nothing.

``--scale`` shrinks every size by the same share; the quick suite runs 4 % (1M).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.csv as pv
import pyarrow.parquet as pq

from benchmarks.measure import PeakMemory, time_call
from benchmarks.references import fit_implicit
from benchmarks.report import Result, Row
from benchmarks.serving import BLOCK, numpy_bound
from benchmarks.synthetic import INTERACTIONS_SCHEMA, skewed_interactions, write_csv
from engine.batch import run_batch_inference
from engine.campaign import create_campaign
from engine.store import DatasetGroup, InteractionCache, Store
from engine.training import SolutionConfig, SolutionVersion, create_solution, select_interactions
from recipes.als import UserPersonalization

__all__ = ["NAME", "run"]

NAME = "scale"
TITLE = "synthetic MovieLens-25M-shaped data end to end: time and peak memory per step"
FULL = {"interactions": 25_000_000, "users": 160_000, "items": 60_000}
QUICK_SCALE = 0.04
HYPERPARAMETERS = {"factors": 64, "iterations": 15}


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
        One row per step: ours (seconds, peak MiB), the reference, ours / reference.
    """
    share = QUICK_SCALE if quick else scale
    sizes = {name: max(1, int(round(value * share))) for name, value in FULL.items()}
    result = Result(NAME, TITLE, details={"sizes": sizes, "share_of_full": share, "steps": {}})
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        _steps(Path(directory), sizes, result)
    return result


def _steps(directory: Path, sizes: dict[str, int], result: Result) -> None:
    rows = sizes["interactions"]
    path = directory / "interactions.csv"
    _step(result, "generate + write CSV (setup)", rows, lambda: _write_csv(sizes, path))

    group = Store(directory / "store").create_dataset_group("scale")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    importing = ("pyarrow.csv.read_csv", lambda: pv.read_csv(path))
    _step(result, "import_csv", rows, lambda: group.import_csv("INTERACTIONS", path), importing)

    segments = sorted((group.path / "datasets" / "INTERACTIONS").glob("segments/*.parquet"))
    reading = ("parquet read_table", lambda: [pq.read_table(segment) for segment in segments])
    cache = _step(result, "interaction cache", rows, group.interaction_cache, reading)

    version = _step(result, "train (evaluate + fit)", rows, lambda: _train(group))
    _implicit_fit(result, cache)
    _train_parts(result, version)
    _batch_job(group, version, directory, result)


def _write_csv(sizes: dict[str, int], path: Path) -> Path:
    interactions = skewed_interactions(
        sizes["users"], sizes["items"], sizes["interactions"], seed=25
    )
    return write_csv(interactions, path)


def _step(
    result: Result,
    label: str,
    rows: int,
    ours: Callable[[], Any],
    reference: tuple[str, Callable[[], Any]] | None = None,
    per: str = "rows",
) -> Any:
    """Time ``ours`` and then ``reference``, each with its peak memory; add the row."""
    seconds, peak_mib, value = _measured(ours)
    result.details["steps"][label] = {"seconds": seconds, "peak_mib": peak_mib}
    result.rows.append(
        Row(
            label,
            f"{seconds:.1f} s, {peak_mib:,.0f} MiB peak",
            "",
            None,
            f"{rows / seconds:,.0f} {per}/s",
        )
    )
    if reference is not None:
        _add_reference(result, label, reference[0], *_measured(reference[1])[:2])
    return value


def _add_reference(result: Result, label: str, name: str, seconds: float, peak_mib: float) -> None:
    """Put the reference's figures beside the step's row and in its details."""
    step = result.details["steps"][label]
    step |= {"reference": name, "reference_seconds": seconds, "reference_peak_mib": peak_mib}
    row = next(row for row in result.rows if row.measure == label)
    row.reference = f"{name} {seconds:.1f} s, {peak_mib:,.0f} MiB peak"
    row.ratio = step["seconds"] / seconds


def _measured(function: Callable[[], Any]) -> tuple[float, float, Any]:
    with PeakMemory() as peak:
        seconds, value = time_call(function)
    return seconds, peak.mib, value


def _implicit_fit(result: Result, cache: InteractionCache) -> None:
    """Raw implicit fitted once on the full matrix, built outside the timing."""
    matrix = select_interactions(cache, SolutionConfig("user-personalization")).matrix()
    seconds, peak_mib, _ = _measured(lambda: fit_implicit(matrix, _validated(), seed=42))
    _add_reference(result, "train (evaluate + fit)", "implicit fit", seconds, peak_mib)


def _validated() -> dict[str, Any]:
    return UserPersonalization.validate_hyperparameters(HYPERPARAMETERS)


def _train(group: DatasetGroup) -> SolutionVersion:
    solution = create_solution(
        group, "als", "user-personalization", hyperparameters=HYPERPARAMETERS
    )
    return solution.train()


def _train_parts(result: Result, version: SolutionVersion) -> None:
    """The evaluation and the final fit, from the version's own timings."""
    timings = version.manifest["timings"]
    step = result.details["steps"]["train (evaluate + fit)"]
    step["timings"] = timings
    result.details["metrics"] = version.metrics
    fit, evaluate, implicit = (
        timings["train_seconds"],
        timings["evaluate_seconds"],
        step["reference_seconds"],
    )
    result.rows += [
        Row(
            "  of which final fit", f"{fit:.1f} s", f"implicit fit {implicit:.1f} s", fit / implicit
        ),
        Row(
            "  of which evaluate", f"{evaluate:.1f} s", "", None, "fit on 90 % of users, rank 10 %"
        ),
    ]


def _batch_job(
    group: DatasetGroup, version: SolutionVersion, directory: Path, result: Result
) -> None:
    """A batch inference job over every user beside numpy's top 25 for the same users."""
    model, arrays = version.load_model()
    campaign = _step(
        result,
        "campaign load",
        len(arrays["user_ids"]),
        lambda: create_campaign(group, "batch", version),
        per="users",
    )
    factors, items = model.user_factors, model.item_factors  # type: ignore[attr-defined]
    requests, answers = directory / "users.jsonl", directory / "users.jsonl.out"
    requests.write_text(
        "".join(f'{{"userId": {json.dumps(user)}}}\n' for user in campaign.user_ids())
    )

    def bound() -> None:
        for start in range(0, factors.shape[0], BLOCK):
            numpy_bound(factors[start : start + BLOCK], items, 25)

    label = f"batch job (all {factors.shape[0]:,} users)"
    ours = lambda: run_batch_inference(campaign, requests, answers)  # noqa: E731
    _step(result, label, factors.shape[0], ours, ("numpy top 25", bound), per="users")
