"""User-Personalization: planted signal, fold-in against implicit, event weights."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from engine.errors import InvalidInputError
from recipes.als import ALSModel, UserPersonalization, parse_event_weights
from recipes.base import InteractionData

GROUPS, USERS_PER_GROUP, ITEMS_PER_GROUP = 3, 5, 4


def interactions(
    pairs: list[tuple[int, int]],
    num_users: int,
    num_items: int,
    event_types: list[int] | None = None,
    event_values: list[float] | None = None,
    event_type_names: tuple[str, ...] = ("",),
) -> InteractionData:
    """One event per ``(user, item)`` pair."""
    count = len(pairs)
    users, items = (np.array(column, np.int32) for column in zip(*pairs, strict=True))
    return InteractionData(
        user_indices=users,
        item_indices=items,
        timestamps=np.arange(count, dtype=np.int64),
        event_types=np.array(event_types or [0] * count, np.int32),
        event_values=np.array(event_values or [np.nan] * count, np.float32),
        num_users=num_users,
        num_items=num_items,
        event_type_names=event_type_names,
    )


def planted_blocks(withheld: tuple[int, int]) -> InteractionData:
    """Each group of users consumes its own block of items; one ``(user, item)`` is withheld."""
    pairs = [
        (group * USERS_PER_GROUP + member, group * ITEMS_PER_GROUP + offset)
        for group in range(GROUPS)
        for member in range(USERS_PER_GROUP)
        for offset in range(ITEMS_PER_GROUP)
    ]
    pairs.remove(withheld)
    return interactions(pairs, GROUPS * USERS_PER_GROUP, GROUPS * ITEMS_PER_GROUP)


def fit(data: InteractionData, **given: Any) -> ALSModel:
    recipe = UserPersonalization()
    return recipe.fit(data, recipe.validate_hyperparameters(given), seed=3)


def implicit_twin(model: ALSModel, factors: int, num_threads: int = 1) -> Any:
    """An ``implicit`` ALS holding the same factors and hyperparameters as ``model``."""
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        twin = AlternatingLeastSquares(
            factors=factors,
            regularization=model.regularization,
            alpha=model.alpha,
            num_threads=num_threads,
        )
    twin.user_factors = model.user_factors
    twin.item_factors = model.item_factors
    return twin


def test_withheld_item_ranks_first_among_unseen_items() -> None:
    user, item = 1, 2
    data = planted_blocks(withheld=(user, item))
    model = fit(data, factors="3", iterations="15")

    scores = model.score_users(np.array([user]))[0]
    seen = data.item_indices[data.user_indices == user]
    scores[seen] = -np.inf
    runner_up = np.sort(scores)[-2]
    assert int(np.argmax(scores)) == item
    assert scores[item] - runner_up > 0.5


def test_withheld_item_ranks_first_for_a_folded_in_history() -> None:
    data = planted_blocks(withheld=(0, 0))
    model = fit(data, factors="3")

    # A new user who took items 5 and 6 of the second block should be offered 4 or 7 next.
    history = sp.csr_matrix(([1.0, 1.0], ([0, 0], [5, 6])), shape=(1, data.num_items))
    scores = model.score_histories(history)[0]
    scores[[5, 6]] = -np.inf
    assert set(np.argsort(-scores)[:2]) == {4, 7}


def test_fold_in_matches_implicit_recalculate_user() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="6", alpha="7.5", regularization="0.3")
    histories = sp.csr_matrix(
        np.array(
            [
                [1.0, 0.25, 0, 0, 0, 0, 0, 0, 3.0, 0, 0, 0],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [0, 0, 0, 2.0, 0, -1.0, 0, 0, 0, 0, 0.5, 0],
            ],
            np.float32,
        )
    )
    twin = implicit_twin(model, factors=6)

    expected = twin.recalculate_user(np.arange(3), histories)
    np.testing.assert_allclose(model.fold_in(histories), expected, rtol=1e-4, atol=1e-4)


def test_fold_in_scores_match_implicit_recommend() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="4")
    history = sp.csr_matrix(([2.0, 1.0], ([0, 0], [1, 9])), shape=(1, model.num_items))
    twin = implicit_twin(model, factors=4)

    items, scores = twin.recommend(
        0, history, N=model.num_items, recalculate_user=True, filter_already_liked_items=False
    )
    ours = model.score_histories(history)[0]
    np.testing.assert_allclose(ours[items], scores, rtol=1e-4, atol=1e-4)


def test_fold_in_treats_a_zero_weight_as_no_event() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="4")
    with_zero = sp.csr_matrix(([1.0, 0.0], ([0, 0], [1, 9])), shape=(1, model.num_items))
    without = sp.csr_matrix(([1.0], ([0], [1])), shape=(1, model.num_items))

    np.testing.assert_array_equal(model.fold_in(with_zero), model.fold_in(without))


def test_fold_in_without_regularization_solves_singular_systems() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="20", regularization="0")
    history = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, model.num_items))

    assert np.isfinite(model.score_histories(history)).all()


def test_fit_matches_single_threaded_implicit_bit_for_bit() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    data = planted_blocks(withheld=(0, 0))
    model = fit(data, factors="5", iterations="4", alpha="10")
    with threadpool_limits(1, "blas"):
        reference = AlternatingLeastSquares(
            factors=5, regularization=0.01, alpha=10.0, iterations=4, num_threads=1, random_state=3
        )
        reference.fit(data.matrix(), show_progress=False)

    np.testing.assert_array_equal(model.user_factors, reference.user_factors)
    np.testing.assert_array_equal(model.item_factors, reference.item_factors)


def test_event_weights_combine_type_weight_and_event_value() -> None:
    data = interactions(
        [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0)],
        num_users=3,
        num_items=3,
        event_types=[0, 1, 2, 1, 0],
        event_values=[np.nan, 4.0, 0.5, np.nan, 2.0],
        event_type_names=("click", "watch", "purchase"),
    )
    recipe = UserPersonalization()
    typed = recipe.validate_hyperparameters({"event_weights": "watch=2.5, click=0.25"})
    valued = {**typed, "use_event_value": True}

    weights = recipe.event_weights(data, typed)
    np.testing.assert_array_equal(weights, np.array([0.25, 2.5, 1.0, 2.5, 0.25], np.float32))
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(
        recipe.event_weights(data, valued), np.array([0.25, 10.0, 0.5, 2.5, 0.5], np.float32)
    )


def test_default_event_weights_count_every_event_once() -> None:
    data = interactions([(0, 0), (0, 0), (1, 1)], num_users=2, num_items=2)
    recipe = UserPersonalization()
    weights = recipe.event_weights(data, recipe.validate_hyperparameters({}))

    np.testing.assert_array_equal(weights, np.ones(3, np.float32))


def test_recency_half_life_halves_weight_per_half_life_before_newest_event() -> None:
    day = 86400
    data = dataclasses.replace(
        interactions([(0, 0), (0, 1), (1, 1)], num_users=2, num_items=2),
        timestamps=np.array([0, 10 * day, 20 * day], np.int64),
    )
    recipe = UserPersonalization()
    weights = recipe.event_weights(
        data, recipe.validate_hyperparameters({"recency_half_life_days": "10"})
    )

    np.testing.assert_allclose(weights, np.array([0.25, 0.5, 1.0], np.float32))


def test_parse_event_weights_reads_names_and_numbers() -> None:
    assert parse_event_weights("") == {}
    assert parse_event_weights(" watch = 1.0 ,click=0.25,") == {"watch": 1.0, "click": 0.25}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "watch=1,click",
            "hyperparameter 'event_weights' must be a comma-separated list of name=weight, "
            "such as \"watch=1.0,click=0.25\"; got 'click' in 'watch=1,click'",
        ),
        (
            "watch=lots",
            "hyperparameter 'event_weights' must be a comma-separated list of name=weight, "
            "such as \"watch=1.0,click=0.25\"; got 'watch=lots' in 'watch=lots'",
        ),
        (
            "=2",
            "hyperparameter 'event_weights' must be a comma-separated list of name=weight, "
            "such as \"watch=1.0,click=0.25\"; got '=2' in '=2'",
        ),
        (
            "watch=nan",
            "hyperparameter 'event_weights' must be a comma-separated list of name=weight, "
            "such as \"watch=1.0,click=0.25\"; got 'watch=nan' in 'watch=nan'",
        ),
        (
            "watch=1,watch=2",
            "hyperparameter 'event_weights' names event type 'watch' twice in 'watch=1,watch=2'",
        ),
    ],
)
def test_malformed_event_weights_are_rejected_when_validated(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        UserPersonalization.validate_hyperparameters({"event_weights": text})
    assert str(raised.value) == message


def test_defaults_are_documented_values() -> None:
    assert UserPersonalization.validate_hyperparameters({}) == {
        "factors": 64,
        "regularization": 0.01,
        "iterations": 15,
        "alpha": 10.0,
        "event_weights": "",
        "use_event_value": False,
        "recency_half_life_days": 0.0,
        "calculate_training_loss": False,
    }


def test_score_users_rejects_unknown_user_index() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="2", iterations="1")

    with pytest.raises(InvalidInputError) as raised:
        model.score_users(np.array([0, 15]))
    assert str(raised.value) == "user index 15 is out of range: the model has 15 users"


def test_score_histories_rejects_wrong_item_count() -> None:
    model = fit(planted_blocks(withheld=(0, 0)), factors="2", iterations="1")

    with pytest.raises(InvalidInputError) as raised:
        model.score_histories(sp.csr_matrix((1, 5), dtype=np.float32))
    assert str(raised.value) == "histories have 5 columns; the model scores 12 items"


def test_training_loss_is_logged_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    fit(
        planted_blocks(withheld=(0, 0)), factors="2", iterations="2", calculate_training_loss="true"
    )

    assert any("training loss" in record.getMessage() for record in caplog.records)
