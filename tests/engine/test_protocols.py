"""Cold-start protocols: held-out new users and held-out new items."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.protocols import (
    COLD_START_METRIC_NAMES,
    evaluate_new_items,
    evaluate_new_users,
    split_new_items,
    split_new_users,
)
from recipes import get_recipe
from recipes.base import FeatureColumn, Features, InteractionData

GROUPS, USERS_PER_GROUP, ITEMS_PER_GROUP, TAKEN = 3, 10, 8, 6
FAST_HYBRID = {"no_components": 8, "epochs": 20}


def events(triples: list[tuple[int, int, int]], num_users: int, num_items: int) -> InteractionData:
    users, items, times = (np.array(column) for column in zip(*triples, strict=True))
    return InteractionData(
        user_indices=users.astype(np.int32),
        item_indices=items.astype(np.int32),
        timestamps=times.astype(np.int64),
        event_types=np.zeros(users.size, np.int32),
        event_values=np.full(users.size, np.nan, np.float32),
        num_users=num_users,
        num_items=num_items,
    )


def planted_segments() -> InteractionData:
    """Users of segment g take six of the eight items of genre g, one a day."""
    rng = np.random.default_rng(4)
    triples = []
    for user in range(GROUPS * USERS_PER_GROUP):
        group = user // USERS_PER_GROUP
        chosen = rng.choice(ITEMS_PER_GROUP, size=TAKEN, replace=False) + group * ITEMS_PER_GROUP
        triples += [(user, int(item), day) for day, item in enumerate(chosen)]
    data = events(triples, GROUPS * USERS_PER_GROUP, GROUPS * ITEMS_PER_GROUP)
    segments = np.repeat([f"s{g}" for g in range(GROUPS)], USERS_PER_GROUP).astype(object)
    genres = np.repeat([f"g{g}" for g in range(GROUPS)], ITEMS_PER_GROUP).astype(object)
    return dataclasses.replace(
        data,
        user_features=Features((FeatureColumn("SEGMENT", "categorical", segments),)),
        item_features=Features((FeatureColumn("GENRE", "categorical", genres),)),
    )


def fit_and_evaluate(protocol, recipe_name: str, data: InteractionData, **given):
    recipe_class = get_recipe(recipe_name)
    hyperparameters = recipe_class.validate_hyperparameters(given.pop("hyperparameters", {}))
    return protocol(recipe_class(), data, hyperparameters, seed=7, **given)


def test_new_users_history_is_their_first_distinct_items_and_the_rest_is_truth():
    # User 0 takes item 5 twice, then 6, 7, 8, 9; user 1 has only three distinct items.
    data = events(
        [(0, 5, 10), (0, 5, 11), (0, 6, 12), (1, 1, 1), (0, 7, 13), (1, 2, 2), (0, 8, 14)]
        + [(1, 3, 3), (0, 9, 15), (2, 1, 0), (2, 2, 0), (2, 3, 0), (2, 4, 0)],
        num_users=3,
        num_items=10,
    )
    split = split_new_users(data, test_share=1.0, history_size=3, seed=0)

    assert split.test_users.tolist() == [0, 2]
    assert data.item_indices[split.history].tolist() == [5, 5, 6, 7, 1, 2, 3]
    assert data.item_indices[split.truth].tolist() == [8, 9, 4]
    assert data.user_indices[split.train].tolist() == [1, 1, 1]


def test_new_users_are_drawn_by_seed_and_removed_from_training():
    data = planted_segments()
    first = split_new_users(data, test_share=0.3, history_size=3, seed=1)
    again = split_new_users(data, test_share=0.3, history_size=3, seed=1)
    other = split_new_users(data, test_share=0.3, history_size=3, seed=2)

    assert first.test_users.size == 9
    np.testing.assert_array_equal(first.test_users, again.test_users)
    assert first.test_users.tolist() != other.test_users.tolist()
    assert not np.isin(data.user_indices[first.train], first.test_users).any()


def test_user_metadata_lets_the_hybrid_find_a_new_users_genre_without_history():
    data = planted_segments()
    bare = {**FAST_HYBRID, "use_user_features": False, "use_item_features": False}
    with_segments = {**FAST_HYBRID, "use_item_features": False}

    without = fit_and_evaluate(
        evaluate_new_users, "hybrid", data, hyperparameters=bare, history_size=0
    )
    with_metadata = fit_and_evaluate(
        evaluate_new_users, "hybrid", data, hyperparameters=with_segments, history_size=0
    )
    assert list(with_metadata.values) == list(COLD_START_METRIC_NAMES)
    # The truth is the user's six genre items: all six in the top 8, the genre's block.
    assert with_metadata.values["recall_at_10"] == pytest.approx(1.0)
    assert without.values["recall_at_10"] < 0.8


def test_one_history_item_is_enough_for_the_hybrid_without_metadata():
    bare = {**FAST_HYBRID, "use_user_features": False, "use_item_features": False}
    metrics = fit_and_evaluate(
        evaluate_new_users, "hybrid", planted_segments(), hyperparameters=bare, history_size=1
    )
    # The other five genre items are the five best of the seven the user has not taken.
    assert metrics.values["recall_at_10"] == pytest.approx(1.0)


def test_new_items_are_removed_from_training_and_are_the_test_users_truth():
    # Items 3 and 4 become new; user 2 took only new items, so the model cannot know them.
    data = events(
        [(0, 0, 0), (0, 3, 1), (1, 1, 0), (1, 4, 1), (1, 3, 2), (2, 3, 0), (3, 2, 0)]
        + [(4, 0, 0), (4, 1, 0), (4, 2, 0)],
        num_users=5,
        num_items=6,
    )
    split = split_new_items(data, test_share=0.4, seed=0)

    assert split.new_items.tolist() == [3, 4]
    assert not np.isin(data.item_indices[split.train], split.new_items).any()
    assert split.test_users.tolist() == [0, 1]
    assert split.truths.toarray().tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_item_metadata_ranks_new_items_and_a_recipe_without_it_ranks_at_chance():
    data = planted_segments()
    found = {
        name: fit_and_evaluate(
            evaluate_new_items, name, data, test_share=0.375, hyperparameters=given
        ).values
        for name, given in (
            ("content-based", {}),
            ("hybrid", FAST_HYBRID),
            ("popularity-count", {}),
            ("user-personalization", {"factors": 4}),
        )
    }
    # Nine new items, at most four of a genre: a user's new items (all of their genre) are
    # in their top 5 when the genre is known; by chance, recall@5 would be about 5/9.
    assert found["content-based"]["recall_at_5"] == pytest.approx(1.0)
    assert found["hybrid"]["recall_at_5"] == pytest.approx(1.0)
    assert found["popularity-count"]["recall_at_5"] < 0.7
    # Neither popularity nor ALS knows anything of new items: both rank in the seeded order.
    assert found["user-personalization"] == found["popularity-count"]


def test_equal_scores_tie_break_in_a_seeded_order_not_by_item_index():
    # Every user took new item 0, the lowest index: index order would put it first each time.
    triples = [(user, item, 0) for user in range(20) for item in (0, 1 + user % 9, 10)]
    data = events(triples, num_users=20, num_items=11)
    split = split_new_items(data, test_share=0.9, seed=7)
    assert 0 in split.new_items.tolist()

    metrics = fit_and_evaluate(evaluate_new_items, "popularity-count", data, test_share=0.9)
    assert metrics.values["mean_reciprocal_rank_at_25"] < 0.7
