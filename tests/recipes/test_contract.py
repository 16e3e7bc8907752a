"""The contract every built-in recipe keeps, checked by one shared test class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from engine.errors import InvalidInputError, InvalidStateError
from engine.evaluation import rank_top
from recipes.base import FeatureColumn, Features, InteractionData, Model, Recipe
from recipes.registry import get_recipe

RECIPE_NAMES = [
    "content-based",
    "hybrid",
    "personalized-ranking",
    "popularity-count",
    "similar-items",
    "trending-now",
    "user-personalization",
]
ALS_HYPERPARAMETERS = (
    "alpha, calculate_training_loss, event_weights, factors, iterations, "
    "recency_half_life_days, regularization, use_event_value"
)

# Small settings so that every recipe fits in milliseconds.
FAST_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "user-personalization": {"factors": 4, "iterations": 5},
    "personalized-ranking": {"factors": 4, "iterations": 5},
    "hybrid": {"no_components": 4, "epochs": 5},
    "similar-items": {"num_neighbours": 4},
}

DECLARED_HYPERPARAMETERS = {
    "content-based": ("event_weights, max_text_features, recency_half_life_days, use_event_value"),
    "hybrid": (
        "epochs, event_weights, item_alpha, learning_rate, loss, max_sampled, "
        "max_text_features, no_components, recency_half_life_days, use_event_value, "
        "use_item_features, use_user_features, user_alpha"
    ),
    "personalized-ranking": ALS_HYPERPARAMETERS,
    "popularity-count": "recency_half_life_days",
    "similar-items": (
        "alpha, event_weights, factors, iterations, max_text_features, metadata_weight, "
        "min_cointeraction_count, num_neighbours, popularity_discount_factor, "
        "recency_half_life_days, regularization, similarity, use_event_value"
    ),
    "trending-now": "trend_discovery_frequency, trend_windows",
    "user-personalization": ALS_HYPERPARAMETERS,
}


def planted_interactions(num_groups: int = 3, users_per_group: int = 4) -> InteractionData:
    """Groups of users who each consume every item of their own block of three items.

    Items carry their block as a GENRE and a DESCRIPTION; users carry their group as a
    SEGMENT, so that recipes which need metadata can train too.
    """
    users, items = [], []
    for group in range(num_groups):
        for member in range(users_per_group):
            for item in range(3 * group, 3 * group + 3):
                users.append(group * users_per_group + member)
                items.append(item)
    count = len(users)
    return InteractionData(
        user_indices=np.array(users, np.int32),
        item_indices=np.array(items, np.int32),
        timestamps=np.arange(count, dtype=np.int64),
        event_types=np.zeros(count, np.int32),
        event_values=np.full(count, np.nan, np.float32),
        num_users=num_groups * users_per_group,
        num_items=3 * num_groups,
        user_features=Features(
            (FeatureColumn("SEGMENT", "categorical", _labels(num_groups, users_per_group)),)
        ),
        item_features=Features(
            (
                FeatureColumn("GENRE", "categorical", _labels(num_groups, 3)),
                FeatureColumn("DESCRIPTION", "textual", _labels(num_groups, 3, "a film about ")),
            )
        ),
    )


def _labels(num_groups: int, per_group: int, prefix: str = "") -> np.ndarray:
    labels = [f"{prefix}topic{group}" for group in range(num_groups) for _ in range(per_group)]
    return np.array(labels, dtype=object)


class RecipeContract:
    """Checks any recipe against :mod:`recipes.base`; parametrized over the built-in ones."""

    @pytest.fixture(params=RECIPE_NAMES)
    def recipe_class(self, request: pytest.FixtureRequest) -> type[Recipe]:
        return get_recipe(request.param)

    @pytest.fixture
    def hyperparameters(self, recipe_class: type[Recipe]) -> dict[str, Any]:
        overrides = FAST_HYPERPARAMETERS.get(recipe_class.name, {})
        return recipe_class.validate_hyperparameters(overrides)

    @pytest.fixture
    def data(self) -> InteractionData:
        return planted_interactions()

    @pytest.fixture
    def model(
        self, recipe_class: type[Recipe], data: InteractionData, hyperparameters: dict[str, Any]
    ) -> Model:
        return recipe_class().fit(data, hyperparameters, seed=11)

    def test_fit_returns_model_of_declared_class(
        self, recipe_class: type[Recipe], model: Model, data: InteractionData
    ) -> None:
        assert isinstance(model, recipe_class.model_class)
        assert model.recipe == recipe_class.name
        assert model.num_items == data.num_items

    def test_score_users_is_finite_float32_per_item(
        self, model: Model, data: InteractionData
    ) -> None:
        scores = model.score_users(np.array([0, 5, data.num_users - 1]))
        assert scores.shape == (3, data.num_items)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_score_histories_with_empty_row_is_finite(
        self, model: Model, data: InteractionData
    ) -> None:
        histories = sp.csr_matrix(
            (np.array([1.0, 1.0], np.float32), (np.array([1, 1]), np.array([0, 4]))),
            shape=(2, data.num_items),
        )
        scores = model.score_histories(histories)
        assert scores.shape == (2, data.num_items)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_score_histories_with_no_rows_is_empty(
        self, model: Model, data: InteractionData
    ) -> None:
        scores = model.score_histories(sp.csr_matrix((0, data.num_items), dtype=np.float32))
        assert scores.shape == (0, data.num_items)

    def test_top_n_lists_every_unseen_item_once_and_no_seen_one(
        self, model: Model, data: InteractionData
    ) -> None:
        seen = data.matrix()
        users = np.arange(data.num_users)
        ranked = rank_top(model.score_users(users), seen, data.num_items + 5)
        for user in users:
            listed = ranked[user][ranked[user] >= 0]
            unseen = set(range(data.num_items)) - set(seen[user].indices.tolist())
            assert sorted(listed.tolist()) == sorted(unseen)
            assert (ranked[user][listed.size :] == -1).all()

    def test_similar_items_never_hold_the_item_and_come_best_first(
        self, model: Model, data: InteractionData
    ) -> None:
        if not model.supports_similar_items:
            with pytest.raises(InvalidStateError, match="has no item-to-item similarity$"):
                model.similar_items(0, 3)
            return
        for item in range(data.num_items):
            indices, scores = model.similar_items(item, data.num_items)
            assert item not in indices.tolist()
            assert len(set(indices.tolist())) == indices.size
            assert (np.diff(scores) <= 0).all() and (scores > 0).all()

    def test_unknown_hyperparameter_is_rejected_naming_the_known_ones(
        self, recipe_class: type[Recipe]
    ) -> None:
        known = DECLARED_HYPERPARAMETERS[recipe_class.name]
        message = (
            f"recipe '{recipe_class.name}' has no hyperparameter 'shrinkage' (it takes: {known})"
        )
        with pytest.raises(InvalidInputError) as raised:
            recipe_class.validate_hyperparameters({"shrinkage": "0.1"})
        assert str(raised.value) == message

    def test_out_of_range_hyperparameters_are_rejected(self, recipe_class: type[Recipe]) -> None:
        for spec in recipe_class.hyperparameters:
            if spec.minimum is not None:
                with pytest.raises(InvalidInputError, match=f"'{spec.name}' must be in"):
                    recipe_class.validate_hyperparameters({spec.name: spec.minimum - 1})
            if spec.maximum is not None:
                with pytest.raises(InvalidInputError, match=f"'{spec.name}' must be in"):
                    recipe_class.validate_hyperparameters({spec.name: spec.maximum + 1})

    def test_hyperparameters_given_as_strings_are_converted(
        self, recipe_class: type[Recipe]
    ) -> None:
        as_strings = {spec.name: str(spec.default) for spec in recipe_class.hyperparameters}
        defaults = {spec.name: spec.default for spec in recipe_class.hyperparameters}
        validated = recipe_class.validate_hyperparameters(as_strings)
        assert validated == defaults
        assert [type(value) for value in validated.values()] == [
            spec.kind for spec in recipe_class.hyperparameters
        ]

    def test_saved_arrays_reload_to_identical_scores(
        self,
        recipe_class: type[Recipe],
        model: Model,
        hyperparameters: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        for stem, array in model.arrays().items():
            np.save(tmp_path / f"{stem}.npy", array, allow_pickle=False)
        loaded = {path.stem: np.load(path, allow_pickle=False) for path in tmp_path.glob("*.npy")}
        reloaded = recipe_class.model_class.from_arrays(loaded, hyperparameters)

        users = np.arange(4)
        histories = sp.csr_matrix(np.eye(2, model.num_items, k=3, dtype=np.float32))
        np.testing.assert_array_equal(reloaded.score_users(users), model.score_users(users))
        np.testing.assert_array_equal(
            reloaded.score_histories(histories), model.score_histories(histories)
        )

    def test_equal_seeds_give_identical_arrays(
        self,
        recipe_class: type[Recipe],
        model: Model,
        data: InteractionData,
        hyperparameters: dict[str, Any],
    ) -> None:
        again = recipe_class().fit(data, hyperparameters, seed=11)
        first, second = model.arrays(), again.arrays()
        assert first.keys() == second.keys()
        for stem in first:
            np.testing.assert_array_equal(first[stem], second[stem])


class TestBuiltinRecipes(RecipeContract):
    """Every built-in recipe keeps the contract."""
