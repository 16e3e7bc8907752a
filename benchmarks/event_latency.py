"""Time from ``put_events`` to the next recommendation for that user, against implicit.

Ours: one ``put_events`` call (validated, appended, fsynced) followed by
``Campaign.get_recommendations`` for the same user, which reads the log's new tail and folds
the user in. implicit: ``recommend(user, user_items, recalculate_user=True)`` on the same
factors, with the user's row already in memory (no validation, no durability).

Run with ``.venv/bin/python benchmarks/event_latency.py``; prints the medians and the ratio.
"""

from __future__ import annotations

import csv
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from engine.campaign import create_campaign
from engine.events import create_event_tracker
from engine.store import Store
from engine.training import create_solution

logger = logging.getLogger(__name__)

USERS, ITEMS, PER_USER, CALLS, FACTORS = 5000, 2000, 30, 100, 64
SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def write_data(path: Path, rng: np.random.Generator) -> Path:
    """Users with Zipf-ish item choices."""
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
        for user in range(USERS):
            for item in rng.choice(ITEMS, size=PER_USER, replace=False, p=popularity):
                writer.writerow([f"u{user}", f"i{item}", "watch", 1_700_000_000 + user])
    return path


def measure_ours(root: Path, rng: np.random.Generator) -> tuple[list[tuple[float, float]], object]:
    """Seconds of put_events and of the next answer, per call; and the version served."""
    group = Store(root).create_dataset_group("bench")
    group.create_dataset("INTERACTIONS", SCHEMA)
    group.import_csv("INTERACTIONS", write_data(root / "i.csv", rng))
    solution = create_solution(
        group, "als", "user-personalization", hyperparameters={"factors": FACTORS}
    )
    version = solution.train()
    campaign = create_campaign(group, "bench", version)
    tracker = create_event_tracker(group, "bench")

    timings = []
    for call in range(CALLS):
        user, item = f"u{call}", f"i{int(rng.integers(ITEMS))}"
        event = {"event_type": "watch", "sent_at": 1_710_000_000 + call, "item_id": item}
        started = time.perf_counter()
        tracker.put_events(f"s{call}", [event], user_id=user)
        logged = time.perf_counter()
        campaign.get_recommendations(user, num_results=25)
        timings.append((logged - started, time.perf_counter() - logged))
    return timings, version


def measure_implicit(version: object, rng: np.random.Generator) -> list[float]:
    """Seconds per implicit ``recommend(..., recalculate_user=True)`` on the same factors."""
    from implicit.cpu.als import AlternatingLeastSquares

    model, arrays = version.load_model()  # type: ignore[attr-defined]
    hyperparameters = version.manifest["config"]["hyperparameters"]  # type: ignore[attr-defined]
    als = AlternatingLeastSquares(
        factors=FACTORS,
        regularization=hyperparameters["regularization"],
        alpha=hyperparameters["alpha"],
    )
    als.user_factors = np.array(model.user_factors, dtype=np.float32)
    als.item_factors = np.array(model.item_factors, dtype=np.float32)
    seen = sp.csr_matrix(
        (
            np.array(arrays["seen_weights"]),
            np.array(arrays["seen_indices"]),
            np.array(arrays["seen_indptr"]),
        ),
        shape=(len(arrays["user_ids"]), len(arrays["item_ids"])),
    )

    timings = []
    for call in range(CALLS):
        row = seen[call].tolil()
        row[0, int(rng.integers(seen.shape[1]))] += 1.0
        row = row.tocsr()
        started = time.perf_counter()
        als.recommend(call, row, N=25, recalculate_user=True, filter_already_liked_items=True)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as directory:
        ours, version = measure_ours(Path(directory), rng)
        theirs = measure_implicit(version, rng)
    ours_ms = statistics.median(put + answer for put, answer in ours) * 1e3
    put_ms = statistics.median(put for put, _ in ours) * 1e3
    answer_ms = statistics.median(answer for _, answer in ours) * 1e3
    theirs_ms = statistics.median(theirs) * 1e3
    sys.stdout.write(
        f"{USERS} users x {ITEMS} items, {FACTORS} factors, median over {CALLS} calls\n"
        f"put_events + get_recommendations: {ours_ms:.3f} ms "
        f"(put_events {put_ms:.3f} ms, get_recommendations {answer_ms:.3f} ms)\n"
        f"implicit recommend(recalculate_user=True): {theirs_ms:.3f} ms\n"
        f"ratio ours / implicit: {ours_ms / theirs_ms:.2f}\n"
    )


if __name__ == "__main__":
    main()
