"""Similar-items: co-occurrence, popularity discount, minimum count, metadata, factors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from engine.errors import InvalidStateError
from recipes.base import FeatureColumn, Features, InteractionData
from recipes.popularity import PopularityCount
from recipes.similar_items import SimilarItems, SimilarItemsModel
from recipes.similarity import neighbour_table, top_rows
from tests.recipes.test_contract import planted_interactions

# Item 0 is the query. Five users take 0 and 1; three take 0 and 2, and twenty more take 2
# alone; two take 0 and 3. Item 4 has no interactions; items 0 and 4 share the genre "a".
NUM_ITEMS = 5
GENRES = ["a", "b", "c", "d", "a"]


def cooccurrence_data() -> InteractionData:
    groups = [(5, (0, 1)), (3, (0, 2)), (20, (2,)), (2, (0, 3))]
    users, items = [], []
    for count, taken in groups:
        for _ in range(count):
            user = len(set(users))
            users.extend([user] * len(taken))
            items.extend(taken)
    return InteractionData(
        user_indices=np.array(users, np.int32),
        item_indices=np.array(items, np.int32),
        timestamps=np.arange(len(users), dtype=np.int64),
        event_types=np.zeros(len(users), np.int32),
        event_values=np.full(len(users), np.nan, np.float32),
        num_users=len(set(users)),
        num_items=NUM_ITEMS,
        item_features=Features(
            (FeatureColumn("GENRE", "categorical", np.array(GENRES, dtype=object)),)
        ),
    )


def fit(data: InteractionData, **given: str) -> SimilarItemsModel:
    return SimilarItems().fit(data, SimilarItems.validate_hyperparameters(given), seed=3)


def neighbours(model: SimilarItemsModel, item: int) -> list[int]:
    return model.similar_items(item, NUM_ITEMS)[0].tolist()


def test_pure_cooccurrence_ranks_by_cosine_and_drops_pairs_below_the_minimum() -> None:
    model = fit(cooccurrence_data(), popularity_discount_factor="1", metadata_weight="0")
    indices, scores = model.similar_items(0, NUM_ITEMS)

    # cosine(0, 1) = 5 / sqrt(10 * 5); cosine(0, 2) = 3 / sqrt(10 * 23); 3 shares only two.
    assert indices.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [5 / np.sqrt(50), 3 / np.sqrt(230)], rtol=1e-6)


def test_zero_discount_puts_the_popular_cointeracted_item_first() -> None:
    model = fit(cooccurrence_data(), popularity_discount_factor="0", metadata_weight="0")
    indices, scores = model.similar_items(0, NUM_ITEMS)

    # Scores are popularity shares: item 2 has 23 users, item 1 five.
    assert indices.tolist() == [2, 1]
    np.testing.assert_allclose(scores, [1.0, 5 / 23], rtol=1e-6)


def test_a_lower_minimum_count_relates_the_pair_with_two_users() -> None:
    data = cooccurrence_data()
    assert 3 not in neighbours(fit(data, metadata_weight="0"), 0)
    assert 3 in neighbours(fit(data, metadata_weight="0", min_cointeraction_count="2"), 0)


def test_metadata_gives_an_item_without_interactions_its_genre_neighbour() -> None:
    model = fit(cooccurrence_data(), popularity_discount_factor="1", metadata_weight="0.25")
    indices, scores = model.similar_items(4, NUM_ITEMS)

    assert indices.tolist() == [0]
    assert scores[0] == pytest.approx(0.25)
    # Item 0's own list: 0.75 * cosine for the items users share, 0.25 for the genre twin.
    indices, scores = model.similar_items(0, NUM_ITEMS)
    assert indices.tolist() == [1, 4, 2]
    np.testing.assert_allclose(
        scores, [0.75 * 5 / np.sqrt(50), 0.25, 0.75 * 3 / np.sqrt(230)], rtol=1e-6
    )


def test_without_item_metadata_the_collaborative_part_is_used_alone() -> None:
    data = dataclasses.replace(cooccurrence_data(), item_features=Features())
    plain = fit(data, popularity_discount_factor="1")
    unblended = fit(cooccurrence_data(), popularity_discount_factor="1", metadata_weight="0")

    np.testing.assert_array_equal(plain.table.indices, unblended.table.indices)
    np.testing.assert_array_equal(plain.table.scores, unblended.table.scores)


def test_factor_neighbours_of_a_planted_block_are_its_own_items() -> None:
    data = dataclasses.replace(planted_interactions(), item_features=Features())
    model = fit(data, similarity="factors", factors="4", iterations="10", num_neighbours="2")
    for item in range(data.num_items):
        block = set(range(3 * (item // 3), 3 * (item // 3) + 3)) - {item}
        assert set(neighbours(model, item)) == block


def test_a_user_is_scored_by_the_neighbours_of_their_history() -> None:
    model = fit(cooccurrence_data(), popularity_discount_factor="1", metadata_weight="0")
    histories = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32))
    scores = model.score_histories(histories)

    np.testing.assert_allclose(scores[0], [0, 5 / np.sqrt(50), 3 / np.sqrt(230), 0, 0], rtol=1e-6)
    # No history, no neighbours: the popularity shares (item 2 has 23 users, 0 ten, 1 five).
    np.testing.assert_allclose(scores[1], [10 / 23, 5 / 23, 1.0, 2 / 23, 0.0], rtol=1e-6)


def test_top_rows_break_ties_by_the_lower_column_and_skip_non_positive_scores() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.5, -1.0], [0.0, 0.0, 0.2, np.nan, 0.0]])
    indices, values = top_rows(scores, 3)

    assert indices.tolist() == [[1, 0, 2], [2, -1, -1]]
    np.testing.assert_allclose(values, [[0.9, 0.5, 0.5], [0.2, 0.0, 0.0]])


def test_neighbour_table_never_lists_an_item_as_its_own_neighbour() -> None:
    table = neighbour_table(lambda items: np.ones((items.size, 4)), num_items=4, count=5)

    assert table.indices.tolist() == [[1, 2, 3, -1, -1], [0, 2, 3, -1, -1]] + [
        [0, 1, 3, -1, -1],
        [0, 1, 2, -1, -1],
    ]


def test_a_model_without_item_similarity_says_so() -> None:
    defaults = PopularityCount.validate_hyperparameters({})
    model = PopularityCount().fit(cooccurrence_data(), defaults, seed=0)
    assert not model.supports_similar_items
    with pytest.raises(
        InvalidStateError, match="^a popularity-count model has no item-to-item similarity$"
    ):
        model.similar_items(0, 3)
