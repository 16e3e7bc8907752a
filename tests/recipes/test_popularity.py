"""Popularity-Count counts distinct users per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recipes.base import InteractionData
from recipes.popularity import PopularityCount, PopularityModel
from recipes.registry import get_recipe


def interactions(pairs: list[tuple[int, int]], num_users: int, num_items: int) -> InteractionData:
    """One event per ``(user, item)`` pair, repeats kept."""
    users, items = (np.array(column, np.int32) for column in zip(*pairs, strict=True))
    return InteractionData(
        user_indices=users,
        item_indices=items,
        timestamps=np.arange(len(pairs), dtype=np.int64),
        event_types=np.zeros(len(pairs), np.int32),
        event_values=np.full(len(pairs), np.nan, np.float32),
        num_users=num_users,
        num_items=num_items,
    )


def fit(data: InteractionData) -> PopularityModel:
    return PopularityCount().fit(data, PopularityCount.validate_hyperparameters({}), seed=0)


def test_popularity_counts_each_user_once_per_item() -> None:
    # User 0 plays item 2 three times and user 1 twice; item 3 is never touched.
    pairs = [(0, 2), (0, 2), (0, 2), (1, 2), (1, 2), (2, 2), (0, 0), (1, 0), (2, 1), (2, 1)]
    model = fit(interactions(pairs, num_users=3, num_items=4))

    np.testing.assert_array_equal(model.item_popularity, np.array([2, 1, 3, 0], np.float32))
    assert model.item_popularity.dtype == np.float32


def test_popularity_scores_every_user_and_history_alike() -> None:
    model = fit(interactions([(0, 1), (1, 1), (1, 0)], num_users=2, num_items=3))
    expected = np.array([[1, 2, 0]] * 2, np.float32)

    np.testing.assert_array_equal(model.score_users(np.array([1, 0])), expected)
    history = sp.csr_matrix(np.array([[0, 0, 5], [0, 0, 0]], np.float32))
    np.testing.assert_array_equal(model.score_histories(history), expected)


def test_popularity_ignores_event_type_and_value() -> None:
    data = interactions([(0, 0), (1, 0), (0, 1)], num_users=2, num_items=2)
    weighted = InteractionData(
        user_indices=data.user_indices,
        item_indices=data.item_indices,
        timestamps=data.timestamps,
        event_types=np.array([1, 0, 1], np.int32),
        event_values=np.array([0.5, 90.0, np.nan], np.float32),
        num_users=2,
        num_items=2,
        event_type_names=("click", "watch"),
    )
    np.testing.assert_array_equal(fit(weighted).item_popularity, np.array([2, 1], np.float32))


def test_popularity_is_registered_under_its_service_name() -> None:
    assert get_recipe("popularity-count") is PopularityCount
    assert [spec.name for spec in PopularityCount.hyperparameters] == ["recency_half_life_days"]
