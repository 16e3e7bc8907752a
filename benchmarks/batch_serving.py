"""Batch jobs and filtered requests against implicit's batched ``recommend``.

A synthetic campaign (see :func:`benchmarks.serving.synthetic_campaign`: 100,000 users ×
20,000 items, 64 factors) gets an Items dataset with 20 categories (item ``i<n>`` is in
category ``c<n mod 20>``) and a filter leaving out five of them. On the very same factors
and seen items:

- batch, ours: ``run_batch_inference`` over a JSON Lines file of every user (read, score in
  blocks, remove seen items, filter, top 25, write JSON Lines), without and with the filter
  (its values given on every line), a worker thread per core with BLAS on one thread, and
  once more on a single worker thread, to compare like with like;
- batch, implicit: one ``recommend(all_users, seen, N=25)`` call, without and with
  ``filter_items`` (the same excluded items), with BLAS on one thread as implicit asks
  (about twice as fast as with its default threads here); it returns arrays and writes
  nothing;
- peak resident memory of each, beside the size of a users × items float32 score matrix;
- one request: ``get_recommendations`` without and with the filter, against
  ``recommend(user, seen[user], N=25)`` without and with ``filter_items``; and with a filter
  on the user's interactions (``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")``).

The machine is shared, so the batch jobs run twice, taking turns, and the faster run of each
counts; single requests take turns user by user, with BLAS on one thread for both: a
two-thread BLAS call for one user waits for a second core, which on a busy machine costs
4-8 ms a call whoever makes it.

``--quick``: 20,000 users × 5,000 items.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import scipy.sparse as sp

from benchmarks.measure import PeakMemory, median_seconds, percentile, time_call, turn_latencies
from benchmarks.report import Result, Row
from benchmarks.serving import implicit_twin, synthetic_campaign
from engine.batch import run_batch_inference
from engine.campaign import Campaign
from engine.filter_store import create_filter
from engine.store import DatasetGroup, Store

__all__ = ["NAME", "run"]

NAME = "batch_serving"
TITLE = "batch jobs over every user and filtered requests vs implicit's batched recommend"
TOP = 25
RUNS = 2
CATEGORIES = 20
LEFT_OUT = '"c1","c4","c7","c11","c16"'
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "CATEGORY", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}


def run(quick: bool) -> Result:
    """Batch throughput and peak memory, and one-request latency, with and without a filter.

    Parameters
    ----------
    quick : bool
        20k users × 5k items and 500 timed requests instead of 100k × 20k and 2,000.

    Returns
    -------
    Result
        Throughput ratios are ours / implicit (below 1 is slower); latency and memory
        ratios are ours / implicit (above 1 is slower or larger).
    """
    users, items = (20_000, 5_000) if quick else (100_000, 20_000)
    calls = 500 if quick else 2_000
    result = Result(NAME, TITLE, details={"users": users, "items": items, "factors": 64})
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as name:
        directory = Path(name)
        campaign = synthetic_campaign(directory, users, items)
        _add_categories(Store(directory / "store").dataset_group("serving"), directory, items)
        twin, seen = implicit_twin(campaign)
        left_out = np.flatnonzero(np.isin(_categories(campaign), [1, 4, 7, 11, 16]))
        _batch(campaign, twin, seen, left_out, directory, result)
        sample = np.random.default_rng(2).choice(users, size=calls, replace=False)
        _latency(campaign, twin, seen, left_out, sample, result)
    return result


def _add_categories(group: DatasetGroup, directory: Path, items: int) -> None:
    """Items with a CATEGORY each, and the filters the benchmark applies."""
    table = pa.table(
        {
            "ITEM_ID": [f"i{n}" for n in range(items)],
            "CATEGORY": [f"c{n % CATEGORIES}" for n in range(items)],
        }
    )
    pv.write_csv(table, directory / "items.csv")
    group.create_dataset("ITEMS", ITEMS_SCHEMA)
    group.import_csv("ITEMS", directory / "items.csv")
    create_filter(group, "not-these", "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORIES)")
    create_filter(group, "unseen", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')


def _categories(campaign: Campaign) -> np.ndarray:
    """Each catalogue item's category number, from its id ``i<n>``."""
    return np.array([int(str(item)[1:]) % CATEGORIES for item in campaign.item_ids()])


def _batch(
    campaign: Campaign,
    twin: Any,
    seen: sp.csr_matrix,
    left_out: np.ndarray,
    directory: Path,
    into: Result,
) -> None:
    users = campaign.user_ids()
    plain = _requests(directory / "users.jsonl", users, None)
    filtered = _requests(directory / "filtered.jsonl", users, {"CATEGORIES": LEFT_OUT})
    everyone = np.arange(len(users))
    jobs: dict[str, Callable[[], Any]] = {
        "ours": lambda: run_batch_inference(campaign, plain, directory / "out.jsonl"),
        "ours, one worker": lambda: run_batch_inference(
            campaign, plain, directory / "out.jsonl", workers=1
        ),
        "ours filtered": lambda: run_batch_inference(
            campaign, filtered, directory / "out.jsonl", filter="not-these"
        ),
        "implicit": lambda: _one_blas_thread(lambda: twin.recommend(everyone, seen, N=TOP)),
        "implicit filtered": lambda: _one_blas_thread(
            lambda: twin.recommend(everyone, seen, N=TOP, filter_items=left_out)
        ),
    }
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for _ in range(RUNS):
        for label, job in jobs.items():
            with PeakMemory() as peak:
                elapsed = time_call(job)[0]
            seconds[label] = min(elapsed, seconds.get(label, elapsed))
            peaks[label] = max(peak.mib, peaks.get(label, 0.0))
    matrix_mib = len(users) * campaign.num_items * 4 / 2**20
    into.details["batch_seconds"] = seconds
    into.details["batch_peak_mib"] = peaks
    _batch_rows(len(users), seconds, peaks, matrix_mib, into)


def _one_blas_thread(call: Callable[[], Any]) -> Any:
    """Run ``call`` with BLAS on one thread, as implicit's own warning recommends."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        return call()


def _requests(path: Path, users: list[str], values: dict[str, str] | None) -> Path:
    extra = {} if values is None else {"filterValues": values}
    with path.open("w") as stream:
        stream.writelines(json.dumps({"userId": user, **extra}) + "\n" for user in users)
    return path


def _batch_rows(
    count: int, seconds: dict[str, float], peaks: dict[str, float], matrix_mib: float, into: Result
) -> None:
    pairs = (
        ("batch job over every user, JSON in and out", "ours", "implicit"),
        (
            "the same on one worker thread, as implicit's one BLAS thread",
            "ours, one worker",
            "implicit",
        ),
        ("batch job over every user, category filter", "ours filtered", "implicit filtered"),
    )
    for measure, ours, theirs in pairs:
        into.rows.append(
            Row(
                f"{measure} ({count:,} users)",
                f"{count / seconds[ours]:,.0f} users/s",
                f"{count / seconds[theirs]:,.0f} users/s",
                seconds[theirs] / seconds[ours],
                "throughput ratio (below 1 is slower)",
            )
        )
    into.rows.append(
        Row(
            "peak resident memory of the batch job",
            f"{peaks['ours']:,.0f} MiB",
            f"{peaks['implicit']:,.0f} MiB",
            peaks["ours"] / peaks["implicit"],
            f"peak of the process in the call; users x items in float32: {matrix_mib:,.0f} MiB",
        )
    )


def _latency(
    campaign: Campaign,
    twin: Any,
    seen: sp.csr_matrix,
    left_out: np.ndarray,
    sample: np.ndarray,
    into: Result,
) -> None:
    ids = campaign.user_ids()
    values = {"CATEGORIES": LEFT_OUT}
    scorers: dict[str, Callable[[int], Any]] = {
        "ours": lambda u: campaign.get_recommendations(ids[u], TOP),
        "ours filtered": lambda u: campaign.get_recommendations(
            ids[u], TOP, filter="not-these", filter_values=values
        ),
        "ours interactions filter": lambda u: campaign.get_recommendations(
            ids[u], TOP, filter="unseen"
        ),
        "implicit": lambda u: twin.recommend(u, seen[u], N=TOP),
        "implicit filtered": lambda u: twin.recommend(u, seen[u], N=TOP, filter_items=left_out),
    }
    timings = _one_blas_thread(lambda: turn_latencies(scorers, sample))
    into.details["single_request_ms"] = {
        label: {"median": median_seconds(t) * 1e3, "p99": percentile(t, 0.99) * 1e3}
        for label, t in timings.items()
    }
    pairs = (
        ("one request", "ours", "implicit"),
        ("one request, category filter", "ours filtered", "implicit filtered"),
        ("one request, interactions filter", "ours interactions filter", "implicit"),
    )
    for measure, ours, theirs in pairs:
        for label, share in (("median", 0.5), ("p99", 0.99)):
            mine, reference = percentile(timings[ours], share), percentile(timings[theirs], share)
            into.rows.append(
                Row(
                    f"{measure}, {label} latency",
                    f"{mine * 1e3:.3f} ms",
                    f"{reference * 1e3:.3f} ms",
                    mine / reference,
                    f"{sample.size} requests",
                )
            )
