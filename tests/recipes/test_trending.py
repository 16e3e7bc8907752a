"""Trending-now: counts per window, growth as their slope, window boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidInputError
from recipes.base import InteractionData
from recipes.trending import TrendingModel, TrendingNow

HOUR = 3600
NEWEST = 1_700_000_000


def events(per_item: dict[int, list[int]]) -> InteractionData:
    """Events of one user each; ``per_item`` maps an item to its events' ages in seconds."""
    items = [item for item, ages in per_item.items() for _ in ages]
    stamps = [NEWEST - age for ages in per_item.values() for age in ages]
    return InteractionData(
        user_indices=np.arange(len(items), dtype=np.int32),
        item_indices=np.array(items, np.int32),
        timestamps=np.array(stamps, np.int64),
        event_types=np.zeros(len(items), np.int32),
        event_values=np.full(len(items), np.nan, np.float32),
        num_users=len(items),
        num_items=6,
    )


def planted() -> InteractionData:
    """Item 0 is steady, 1 grows, 2 falls, 3 had a burst three hours ago, 5 has no events.

    Item 4 has one event exactly one hour before the newest (the window before) and the
    newest event itself.
    """
    recent, previous = HOUR // 2, HOUR + HOUR // 2
    return events(
        {
            0: [recent] * 5 + [previous] * 5,
            1: [recent] * 6 + [previous],
            2: [recent] + [previous] * 6,
            3: [2 * HOUR + 10] * 10,
            4: [HOUR, 0],
        }
    )


def fit(data: InteractionData, **given: str) -> TrendingModel:
    hyperparameters = TrendingNow.validate_hyperparameters(
        {"trend_discovery_frequency": "1 hour", **given}
    )
    return TrendingNow().fit(data, hyperparameters, seed=0)


def test_two_windows_rank_by_the_newest_count_minus_the_one_before() -> None:
    model = fit(planted())

    np.testing.assert_array_equal(
        model.window_counts, [[5, 5], [1, 6], [6, 1], [0, 0], [1, 1], [0, 0]]
    )
    np.testing.assert_array_equal(model.item_trend, [0, 5, -5, 0, 0, 0])
    ranking = np.argsort(-model.score_users(np.array([0]))[0], kind="stable")
    assert ranking.tolist() == [1, 0, 3, 4, 5, 2]


def test_three_windows_fit_the_slope_and_see_the_old_burst_fade() -> None:
    model = fit(planted(), trend_windows="3")

    np.testing.assert_array_equal(model.window_counts[3], [10, 0, 0])
    # Least-squares slope over windows at -1, 0, 1: (newest - oldest) / 2.
    np.testing.assert_array_equal(model.item_trend, [2.5, 3, 0.5, -5, 0.5, 0])


def test_a_longer_window_merges_the_recent_hours() -> None:
    model = fit(planted(), trend_discovery_frequency="1 day")
    np.testing.assert_array_equal(model.window_counts[:, 1], [10, 7, 7, 10, 2, 0])
    np.testing.assert_array_equal(model.window_counts[:, 0], 0)


def test_every_user_and_every_history_gets_the_same_scores() -> None:
    model = fit(planted())
    assert model.same_for_every_user
    np.testing.assert_array_equal(model.score_users(np.array([0, 3]))[1], model.item_trend)


def test_the_window_length_must_be_one_the_service_offers() -> None:
    with pytest.raises(InvalidInputError) as raised:
        TrendingNow.validate_hyperparameters({"trend_discovery_frequency": "1 week"})
    assert str(raised.value) == (
        "hyperparameter 'trend_discovery_frequency' must be one of '30 minutes', '1 hour', "
        "'2 hours', '3 hours', '1 day', got '1 week'"
    )
