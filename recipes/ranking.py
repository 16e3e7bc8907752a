"""Personalized-Ranking: ALS trained to re-rank a list of items for a user.

It mirrors the service's ``aws-personalized-ranking`` recipe. Any campaign re-ranks a list
with :meth:`engine.campaign.Campaign.get_personalized_ranking`, whatever its recipe; this
recipe exists so that a solution can name the service's use case. It trains exactly as
``user-personalization`` does (the same hyperparameters, weights and fold-in), and its
model scores a user's items as ALS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from recipes.als import ALSModel, UserPersonalization
from recipes.base import InteractionData, Model

__all__ = ["PersonalizedRanking", "RankingModel"]


class RankingModel(ALSModel):
    """ALS factors deployed for re-ranking; scores as :class:`~recipes.als.ALSModel`."""

    recipe: ClassVar[str] = "personalized-ranking"


class PersonalizedRanking(UserPersonalization):
    """Implicit-feedback ALS for re-ranking lists, the counterpart of ``aws-personalized-ranking``.

    Limitation: the service normalises ranking scores with a softmax over the input list;
    a campaign here returns the model's raw scores, in the same order.

    Examples
    --------
    >>> version = create_solution(group, "rerank", "personalized-ranking").train()  # doctest: +SKIP
    >>> create_campaign(group, "rerank", version).get_personalized_ranking(
    ...     "u42", ["v1", "v7", "v3"]
    ... ).items[0].item_id  # doctest: +SKIP
    'v7'
    """

    name: ClassVar[str] = "personalized-ranking"
    description: ClassVar[str] = "ALS for re-ranking a given list of items for a user."
    model_class: ClassVar[type[Model]] = RankingModel

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> RankingModel:
        """Train as ``user-personalization`` does; identical factors for equal seeds."""
        als = super().fit(data, hyperparameters, seed, show_progress)
        return RankingModel(als.user_factors, als.item_factors, als.regularization, als.alpha)
