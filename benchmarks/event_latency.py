"""Time from ``put_events`` to the next recommendation for that user, against implicit.

Ours: one ``put_events`` call (validated against the schema, appended to the log and
fsynced) followed by ``Campaign.get_recommendations`` for the same user, which reads the
log's new tail and folds the user in from their whole history. implicit:
``recommend(user, user_items, recalculate_user=True)`` on the same factors, with the user's
row, new event included, already in memory (no validation, no durability).

The split says where our time goes:

- the durable append alone (``EventLog.append`` of the same rows: write plus ``fsync``),
  beside the bound for it, one ``os.write`` and ``os.fsync`` of a line as long on a file in
  the same directory;
- validation, the rest of ``put_events``;
- fold-in and scoring, the ``get_recommendations`` that follows, beside implicit's
  ``recommend(..., recalculate_user=True)``.

Run it with ``python -m benchmarks.run --only event_latency``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from benchmarks.measure import median_seconds
from benchmarks.report import Result, Row
from benchmarks.synthetic import INTERACTIONS_SCHEMA, skewed_interactions, write_csv
from engine.campaign import Campaign, create_campaign
from engine.events import EventTracker, create_event_tracker
from engine.store import Store
from engine.store.event_log import EventLog
from engine.training import create_solution

__all__ = ["NAME", "run"]

NAME = "event_latency"
TITLE = "put_events then get_recommendations vs implicit recommend(recalculate_user=True)"
FACTORS = 64
TOP = 25
EVENTS_PER_USER = 30
WARM_UP = 20
STEPS = ("put_events", "answer", "append", "implicit", "fsync_bound")


def run(quick: bool) -> Result:
    """Median latency of each step over many calls, each on another user, and the ratios.

    The steps alternate call by call, so that drift in a shared machine hits all of them,
    under one thread (BLAS and OpenMP) for both sides: one user's fold-in gains nothing from
    more, and spinning threads on a busy core made implicit's calls erratic.

    Parameters
    ----------
    quick : bool
        5,000 users × 2,000 items and 100 calls instead of 50,000 × 20,000 and 300.

    Returns
    -------
    Result
        Ratios are ours / reference (above 1 is slower).
    """
    users, items, calls = (5_000, 2_000, 100) if quick else (50_000, 20_000, 300)
    result = Result(NAME, TITLE, details={"users": users, "items": items, "factors": FACTORS})
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        root = Path(directory)
        campaign, tracker = _deploy(root, users, items)
        twin, seen = _implicit_twin(campaign)
        handle = os.open(root / "bound.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with threadpool_limits(1):
                timings = _measure(campaign, tracker, twin, seen, handle, calls)
        finally:
            os.close(handle)
    _report(result, timings, calls)
    return result


def _deploy(root: Path, users: int, items: int) -> tuple[Campaign, EventTracker]:
    """An ALS campaign on skewed synthetic data, and the group's event tracker."""
    interactions = skewed_interactions(users, items, users * EVENTS_PER_USER, seed=5)
    group = Store(root / "store").create_dataset_group("events")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_csv(interactions, root / "i.csv"))
    hyperparameters = {"factors": FACTORS, "iterations": 5}
    solution = create_solution(
        group, "als", "user-personalization", hyperparameters=hyperparameters
    )
    return create_campaign(group, "live", solution.train()), create_event_tracker(group, "live")


def _implicit_twin(campaign: Campaign) -> tuple[Any, sp.csr_matrix]:
    """implicit's ALS holding the campaign's factors, and the weighted seen-item matrix."""
    from implicit.cpu.als import AlternatingLeastSquares

    model, arrays = campaign.version.load_model()
    hyperparameters = campaign.version.manifest["config"]["hyperparameters"]
    twin = AlternatingLeastSquares(
        factors=FACTORS,
        regularization=hyperparameters["regularization"],
        alpha=hyperparameters["alpha"],
    )
    twin.user_factors = np.array(model.user_factors, dtype=np.float32)
    twin.item_factors = np.array(model.item_factors, dtype=np.float32)
    weights = np.array(arrays["seen_weights"])
    indices, indptr = np.array(arrays["seen_indices"]), np.array(arrays["seen_indptr"])
    shape = (len(arrays["user_ids"]), len(arrays["item_ids"]))
    return twin, sp.csr_matrix((weights, indices, indptr), shape=shape)


def _measure(
    campaign: Campaign,
    tracker: EventTracker,
    twin: Any,
    seen: sp.csr_matrix,
    handle: int,
    calls: int,
) -> dict[str, list[float]]:
    """Seconds of each step, per call, each call on the next training user."""
    log = EventLog(tracker.group.path)
    user_ids = campaign.user_ids()
    timings: dict[str, list[float]] = {name: [] for name in STEPS}
    for call in range(WARM_UP + calls):
        user, event = user_ids[call], _event(call, campaign.num_items)
        history = seen[call].tolil()
        history[0, int(event["item_id"][1:])] += 1.0
        history = history.tocsr()
        row = {"USER_ID": f"again-{call}", "ITEM_ID": "i0", "EVENT_TYPE": "watch", "TIMESTAMP": 1}
        line = (json.dumps({"dataset": "INTERACTIONS", "rows": [row]}) + "\n").encode()

        steps = {
            "put_events": partial(tracker.put_events, f"s{call}", [event], user_id=user),
            "answer": partial(campaign.get_recommendations, user, num_results=TOP),
            "append": partial(log.append, "INTERACTIONS", [row]),
            "implicit": partial(
                twin.recommend,
                call,
                history,
                N=TOP,
                recalculate_user=True,
                filter_already_liked_items=True,
            ),
            "fsync_bound": partial(_write_and_sync, handle, line),
        }
        for name, step in steps.items():
            seconds = _time(step)
            if call >= WARM_UP:
                timings[name].append(seconds)
    return timings


def _event(call: int, num_items: int) -> dict[str, Any]:
    item = (call * 7919) % num_items
    return {"event_type": "watch", "sent_at": 1_700_000_000 + call, "item_id": f"i{item}"}


def _write_and_sync(handle: int, line: bytes) -> None:
    os.write(handle, line)
    os.fsync(handle)


def _time(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _report(result: Result, timings: dict[str, list[float]], calls: int) -> None:
    median = {name: median_seconds(values) for name, values in timings.items()}
    pairs = zip(timings["put_events"], timings["answer"], strict=True)
    total = median_seconds([put + answer for put, answer in pairs])
    validation = max(median["put_events"] - median["append"], 0.0)
    theirs = median["implicit"]
    result.details.update(
        calls=calls,
        median_ms={name: seconds * 1e3 for name, seconds in median.items()}
        | {"put_events_then_answer": total * 1e3, "validation_and_rest": validation * 1e3},
    )
    result.rows += [
        Row(
            "put_events then next answer vs implicit recalculate_user",
            _ms(total),
            _ms(theirs),
            total / theirs,
            f"median of {calls} calls; implicit does no validation and no fsync",
        ),
        Row(
            "durable append vs write+fsync bound",
            _ms(median["append"]),
            _ms(median["fsync_bound"]),
            median["append"] / median["fsync_bound"],
            "flock, torn-tail check, JSON line",
        ),
        Row("validation and the rest of put_events", _ms(validation), "-", None, "ours only"),
        Row(
            "fold-in and scoring vs implicit recalculate_user",
            _ms(median["answer"]),
            _ms(theirs),
            median["answer"] / theirs,
            "ours also reads the log tail and builds the response",
        ),
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"
