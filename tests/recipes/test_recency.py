"""Recency: in every recipe that uses events, a short half-life lets recent behaviour win."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from recipes.base import FeatureColumn, Features, InteractionData
from recipes.recency import recency_weights
from recipes.registry import get_recipe

DAY = 86400
OLD_ITEMS, NEW_ITEMS = range(0, 6), range(6, 12)
OLD_FANS, NEW_FANS = range(1, 9), range(9, 13)
# User 0 took four old-genre items on days 0-3 and two new-genre items on days 299-300.
TARGET_HISTORY = [(0, 0), (1, 1), (2, 2), (3, 3), (6, 299), (7, 300)]

EVENT_RECIPES = ["content-based", "hybrid", "popularity-count", "user-personalization"]
FAST = {
    "hybrid": {"no_components": 8, "epochs": 40},
    "user-personalization": {"factors": 4, "iterations": 10},
}


def old_and_new_tastes() -> InteractionData:
    """Eight users liked the old genre around day 0, four the new genre around day 300.

    Without recency the old genre has the weight of numbers, for everyone and for user 0;
    with a half-life of a week the new genre is all that counts.
    """
    rng = np.random.default_rng(1)
    events = [(0, item, day) for item, day in TARGET_HISTORY]
    for users, items, first_day in ((OLD_FANS, OLD_ITEMS, 0), (NEW_FANS, NEW_ITEMS, 290)):
        for user in users:
            for item in rng.choice(list(items), size=5, replace=False):
                events.append((user, int(item), first_day + int(rng.integers(0, 10))))
    users, items, days = (np.array(column) for column in zip(*events, strict=True))
    genres = np.array(["old"] * 6 + ["new"] * 6, dtype=object)
    return InteractionData(
        user_indices=users.astype(np.int32),
        item_indices=items.astype(np.int32),
        timestamps=days.astype(np.int64) * DAY,
        event_types=np.zeros(users.size, np.int32),
        event_values=np.full(users.size, np.nan, np.float32),
        num_users=13,
        num_items=12,
        item_features=Features((FeatureColumn("GENRE", "categorical", genres),)),
    )


def best_unseen_item_of_user_0(recipe_name: str, half_life_days: float) -> int:
    recipe_class = get_recipe(recipe_name)
    given: dict[str, Any] = {**FAST.get(recipe_name, {}), "recency_half_life_days": half_life_days}
    data = old_and_new_tastes()
    model = recipe_class().fit(data, recipe_class.validate_hyperparameters(given), seed=3)

    scores = model.score_users(np.array([0]))[0].astype(np.float64)
    scores[[item for item, _ in TARGET_HISTORY]] = -np.inf
    return int(np.argmax(scores))


@pytest.mark.parametrize("recipe_name", EVENT_RECIPES)
def test_every_event_recipe_declares_the_half_life(recipe_name: str) -> None:
    names = [spec.name for spec in get_recipe(recipe_name).hyperparameters]
    assert "recency_half_life_days" in names


@pytest.mark.parametrize("recipe_name", EVENT_RECIPES)
@pytest.mark.parametrize("half_life_days", [0.0, 3650.0])
def test_without_a_short_half_life_the_old_majority_wins(
    recipe_name: str, half_life_days: float
) -> None:
    assert best_unseen_item_of_user_0(recipe_name, half_life_days) in OLD_ITEMS


@pytest.mark.parametrize("recipe_name", EVENT_RECIPES)
def test_with_a_one_week_half_life_recent_behaviour_wins(recipe_name: str) -> None:
    assert best_unseen_item_of_user_0(recipe_name, 7.0) in NEW_ITEMS


def test_popularity_counts_each_user_by_their_newest_event_on_the_item() -> None:
    # Users 0 and 1 took item 0 on days 0 and 10; user 0 took it again on day 20, as did
    # user 2 with item 1. With a ten-day half-life: item 0 = 1 (user 0) + 0.5 (user 1).
    data = InteractionData(
        user_indices=np.array([0, 1, 0, 2], np.int32),
        item_indices=np.array([0, 0, 0, 1], np.int32),
        timestamps=np.array([0, 10, 20, 20], np.int64) * DAY,
        event_types=np.zeros(4, np.int32),
        event_values=np.full(4, np.nan, np.float32),
        num_users=3,
        num_items=3,
    )
    recipe_class = get_recipe("popularity-count")
    given = recipe_class.validate_hyperparameters({"recency_half_life_days": "10"})
    model = recipe_class().fit(data, given, seed=0)

    np.testing.assert_allclose(model.score_users(np.array([0]))[0], [1.5, 1.0, 0.0])


def test_recency_weights_halve_per_half_life_and_zero_turns_them_off() -> None:
    timestamps = np.array([0, 5, 10], np.int64) * DAY

    np.testing.assert_allclose(recency_weights(timestamps, 5.0), [0.25, 0.5, 1.0])
    np.testing.assert_array_equal(recency_weights(timestamps, 0.0), [1.0, 1.0, 1.0])
    assert recency_weights(np.zeros(0, np.int64), 5.0).size == 0
