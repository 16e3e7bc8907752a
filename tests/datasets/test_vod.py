"""Tests for the embedded default: the generator, the bundled files and the planted structure."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import fastavro
import numpy as np
import pytest

import datasets
from datasets import VOD_DIR, vod_paths
from datasets.generate_vod import DEFAULT_SEED, WINDOW_END, WINDOW_START, generate_vod

FILE_NAMES = [
    "interactions.csv",
    "interactions.json",
    "items.csv",
    "items.json",
    "users.csv",
    "users.json",
]


def read_records(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_vod(tmp_path_factory.mktemp("vod"), seed=DEFAULT_SEED)


@pytest.fixture(scope="module")
def interactions() -> list[dict[str, str]]:
    return read_records(vod_paths()["interactions"])


@pytest.fixture(scope="module")
def items() -> dict[str, dict[str, str]]:
    return {row["ITEM_ID"]: row for row in read_records(vod_paths()["items"])}


def test_public_names_are_sorted_and_exist() -> None:
    assert datasets.__all__ == sorted(datasets.__all__)
    assert all(hasattr(datasets, name) for name in datasets.__all__)


def test_default_seed_reproduces_the_bundled_files_byte_for_byte(
    generated: dict[str, Path],
) -> None:
    assert sorted(path.name for path in generated.values()) == FILE_NAMES
    for path in generated.values():
        assert path.read_bytes() == (VOD_DIR / path.name).read_bytes(), path.name


def test_another_seed_gives_other_events(tmp_path: Path) -> None:
    paths = generate_vod(tmp_path, seed=DEFAULT_SEED + 1)
    assert paths["interactions"].read_bytes() != vod_paths()["interactions"].read_bytes()


def test_vod_paths_name_every_bundled_file() -> None:
    paths = vod_paths()
    assert sorted(path.name for path in paths.values()) == FILE_NAMES
    assert all(path.is_file() for path in paths.values())
    assert paths["items_schema"] == VOD_DIR / "items.json"


def test_bundled_files_have_the_planned_sizes(
    interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> None:
    users = read_records(vod_paths()["users"])

    assert len(users) == 2000
    assert len(items) == 600
    assert 80_000 <= len(interactions) <= 120_000
    assert {row["USER_ID"] for row in interactions} == {row["USER_ID"] for row in users}
    assert sum(path.stat().st_size for path in vod_paths().values()) < 5_000_000


def test_schemas_are_valid_avro_matching_the_csv_headers() -> None:
    paths = vod_paths()
    for name in ("interactions", "items", "users"):
        schema = json.loads(paths[f"{name}_schema"].read_text(encoding="utf-8"))
        fastavro.parse_schema(schema)
        with paths[name].open(encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
        assert [field["name"] for field in schema["fields"]] == header
        assert schema["name"] == name.capitalize()


def test_events_are_clicks_then_watches_with_a_share(interactions: list[dict[str, str]]) -> None:
    clicked = set()
    for row in interactions:
        timestamp = int(row["TIMESTAMP"])
        assert WINDOW_START <= timestamp <= WINDOW_END + 3600
        if row["EVENT_TYPE"] == "click":
            assert row["EVENT_VALUE"] == ""
            clicked.add((row["USER_ID"], row["ITEM_ID"]))
        else:
            assert row["EVENT_TYPE"] == "watch"
            assert 0.0 < float(row["EVENT_VALUE"]) <= 1.0
            assert (row["USER_ID"], row["ITEM_ID"]) in clicked


def test_videos_are_clicked_only_after_their_creation(
    interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> None:
    for row in interactions:
        assert int(row["TIMESTAMP"]) >= int(items[row["ITEM_ID"]]["CREATION_TIMESTAMP"])


def clicks_per_video_by(
    field: str, interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> dict[str, float]:
    """Clicks per video of each value of ``field``, relative to the overall rate."""
    clicks = Counter(items[row["ITEM_ID"]][field] for row in interactions)
    videos = Counter(item[field] for item in items.values())
    overall = sum(clicks.values()) / len(items)
    return {value: clicks[value] / videos[value] / overall for value in videos}


def test_noise_tag_does_not_drive_clicks_but_category_does(
    interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> None:
    clicks = [row for row in interactions if row["EVENT_TYPE"] == "click"]
    noise = clicks_per_video_by("NOISE_TAG", clicks, items)
    category = clicks_per_video_by("CATEGORY", clicks, items)

    assert all(0.75 < rate < 1.3 for rate in noise.values()), noise
    assert max(category.values()) / min(category.values()) > 3.0, category


def test_watched_share_is_higher_on_videos_of_the_users_favourite_category(
    interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> None:
    by_user: dict[str, Counter[str]] = defaultdict(Counter)
    for row in interactions:
        if row["EVENT_TYPE"] == "click":
            by_user[row["USER_ID"]][items[row["ITEM_ID"]]["CATEGORY"]] += 1
    favourite = {user: counts.most_common(1)[0][0] for user, counts in by_user.items()}

    shares: dict[bool, list[float]] = {True: [], False: []}
    for row in interactions:
        if row["EVENT_TYPE"] == "watch":
            matches = items[row["ITEM_ID"]]["CATEGORY"] == favourite[row["USER_ID"]]
            shares[matches].append(float(row["EVENT_VALUE"]))
    assert np.mean(shares[True]) > np.mean(shares[False]) + 0.03


def test_als_beats_popularity_on_the_service_protocol(
    interactions: list[dict[str, str]], items: dict[str, dict[str, str]]
) -> None:
    implicit = pytest.importorskip("implicit")
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    users = sorted({row["USER_ID"] for row in interactions})
    user_index = {user: index for index, user in enumerate(users)}
    item_index = {item: index for index, item in enumerate(sorted(items))}
    history: dict[int, list[int]] = defaultdict(list)
    for row in sorted(interactions, key=lambda row: int(row["TIMESTAMP"])):
        history[user_index[row["USER_ID"]]].append(item_index[row["ITEM_ID"]])

    # The service's split: 10% of users held out; their oldest 90% is input, newest 10% truth.
    test_users = np.random.default_rng(0).permutation(len(users))[: len(users) // 10]
    truth: dict[int, set[int]] = {}
    for user in test_users:
        events = history[user]
        cut = int(np.ceil(0.9 * len(events)))
        history[user], truth[user] = events[:cut], set(events[cut:]) - set(events[:cut])

    rows = [user for user, events in history.items() for _ in events]
    columns = [item for events in history.values() for item in events]
    matrix = csr_matrix((np.ones(len(rows), np.float32), (rows, columns)))
    matrix.sum_duplicates()
    held_out = np.isin(np.arange(len(users)), test_users)
    popularity = np.asarray((matrix[~held_out] > 0).sum(axis=0)).ravel().astype(float)

    with threadpool_limits(1):
        model = implicit.als.AlternatingLeastSquares(
            factors=32, regularization=0.05, random_state=0
        )
        model.fit(matrix * 20, show_progress=False)

    def precision(scores_for: dict[int, np.ndarray]) -> float:
        hits = []
        for user, relevant in truth.items():
            scores = scores_for[user].copy()
            scores[history[user]] = -np.inf
            top = np.argsort(-scores, kind="stable")[:25]
            hits.append(len(relevant.intersection(top.tolist())) / 25)
        return float(np.mean(hits))

    als = precision({user: model.user_factors[user] @ model.item_factors.T for user in truth})
    baseline = precision({user: popularity for user in truth})
    assert als > 1.5 * baseline, (als, baseline)
