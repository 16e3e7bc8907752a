"""Personalized-ranking trains the same factors as user-personalization."""

from __future__ import annotations

import numpy as np

from recipes.als import UserPersonalization
from recipes.ranking import PersonalizedRanking, RankingModel
from tests.recipes.test_contract import planted_interactions


def test_ranking_model_holds_the_factors_als_learns_with_the_same_seed() -> None:
    data = planted_interactions()
    given = {"factors": "4", "iterations": "5"}
    ranking = PersonalizedRanking().fit(
        data, PersonalizedRanking.validate_hyperparameters(given), seed=9
    )
    als = UserPersonalization().fit(
        data, UserPersonalization.validate_hyperparameters(given), seed=9
    )

    assert isinstance(ranking, RankingModel)
    assert ranking.recipe == "personalized-ranking"
    np.testing.assert_array_equal(ranking.item_factors, als.item_factors)
    np.testing.assert_array_equal(ranking.user_factors, als.user_factors)
