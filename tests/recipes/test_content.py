"""Content-based: planted genres, zero-interaction items, profiles, recency."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from engine.errors import InvalidInputError
from recipes.base import FeatureColumn, Features, InteractionData
from recipes.content import ContentBased, ContentModel
from recipes.featurize import feature_matrix

# Items 0-3 are comedies, 4-7 dramas; items 3 and 7 have no interactions at all.
GENRES = ["comedy"] * 4 + ["drama"] * 4
DAY = 86400


def genre_data(
    pairs: list[tuple[int, int]], timestamps: list[int] | None = None
) -> InteractionData:
    """Events on the eight genre items, with GENRE and LENGTH (dramas run longer)."""
    users, items = (np.array(column, np.int32) for column in zip(*pairs, strict=True))
    count = len(pairs)
    return InteractionData(
        user_indices=users,
        item_indices=items,
        timestamps=np.array(timestamps or range(count), np.int64),
        event_types=np.zeros(count, np.int32),
        event_values=np.full(count, np.nan, np.float32),
        num_users=int(users.max()) + 1,
        num_items=len(GENRES),
        item_features=Features(
            (
                FeatureColumn("GENRE", "categorical", np.array(GENRES, dtype=object)),
                FeatureColumn(
                    "LENGTH", "numeric", np.array([90.0, 95, 88, 92, 130, 125, 140, 120.0])
                ),
            )
        ),
    )


def fit(data: InteractionData, **given: str) -> ContentModel:
    recipe = ContentBased()
    return recipe.fit(data, recipe.validate_hyperparameters(given), seed=0)


def unseen_ranking(model: ContentModel, user: int, seen: set[int]) -> list[int]:
    scores = model.score_users(np.array([user]))[0]
    return [int(item) for item in np.argsort(-scores, kind="stable") if item not in seen]


def test_unseen_items_of_the_users_genre_rank_first_including_a_zero_interaction_item() -> None:
    # User 0 watches comedies 0-1, user 1 dramas 4-5; items 3 and 7 have no interactions.
    data = genre_data([(0, 0), (0, 1), (1, 4), (1, 5), (2, 2), (2, 6)])
    model = fit(data)

    assert set(unseen_ranking(model, 0, {0, 1})[:2]) == {2, 3}
    assert set(unseen_ranking(model, 1, {4, 5})[:2]) == {6, 7}


def test_score_histories_builds_the_profile_from_the_history_rows() -> None:
    data = genre_data([(0, 0), (0, 1), (1, 4), (1, 5)])
    model = fit(data)
    histories = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0, 0, 0]], np.float32))

    np.testing.assert_allclose(
        model.score_histories(histories), model.score_users(np.array([0])), rtol=1e-6
    )


def test_scores_are_cosine_similarities_at_most_one() -> None:
    model = fit(genre_data([(0, 0), (1, 4)]))
    scores = model.score_users(np.array([0, 1]))

    assert scores.max() <= 1.0 + 1e-6
    assert scores[0, 0] == pytest.approx(1.0)


def test_recency_half_life_lets_the_newest_taste_win() -> None:
    # User 0 watched dramas long ago and comedies lately.
    pairs = [(0, 4), (0, 5), (0, 6), (0, 0), (1, 1)]
    times = [0, 0, 0, 300 * DAY, 300 * DAY]
    data = genre_data(pairs, times)

    without_recency = unseen_ranking(fit(data), 0, {0, 4, 5, 6})
    with_recency = unseen_ranking(fit(data, recency_half_life_days="30"), 0, {0, 4, 5, 6})

    assert without_recency[0] == 7
    assert with_recency[0] in {1, 2, 3}


def test_fit_without_item_features_is_refused() -> None:
    data = dataclasses.replace(genre_data([(0, 0), (1, 4)]), item_features=Features())
    message = (
        "content-based needs an Items dataset with at least one categorical, numeric or "
        "textual column"
    )
    with pytest.raises(InvalidInputError, match=f"^{message}$"):
        fit(data)


def test_feature_matrix_weighs_multi_valued_categories_and_scales_numbers() -> None:
    features = Features(
        (
            FeatureColumn("GENRE", "categorical", np.array(["b|a", "a", None], dtype=object)),
            FeatureColumn("YEAR", "numeric", np.array([1990.0, 2000.0, np.nan])),
            FeatureColumn("PLOT", "textual", np.array(["space war", "war", None], dtype=object)),
        )
    )
    featurized = feature_matrix(features, num_rows=3)

    assert featurized.names.tolist() == ["GENRE=a", "GENRE=b", "YEAR", "PLOT:space", "PLOT:war"]
    dense = featurized.matrix.toarray()
    half = np.float32(1 / np.sqrt(2))
    np.testing.assert_allclose(dense[:, :3], [[half, half, -1.0], [1.0, 0.0, 1.0], [0, 0, 0]])
    np.testing.assert_allclose(np.linalg.norm(dense[:, 3:], axis=1), [1.0, 1.0, 0.0], atol=1e-6)
    assert dense[0, 3] > dense[0, 4]
