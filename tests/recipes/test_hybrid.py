"""Hybrid: numpy serving equals LightFM.predict, cold items and new users from metadata."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from engine.errors import InvalidInputError
from recipes.base import FeatureColumn, Features, InteractionData
from recipes.hybrid import Hybrid, HybridModel, _metadata, _train, _with_identity

GROUPS, USERS_PER_GROUP, ITEMS_PER_GROUP = 3, 8, 6
# The last item of each genre has no interactions; the last user of each group has no events.
COLD_OFFSET = ITEMS_PER_GROUP - 1
NUM_USERS = GROUPS * (USERS_PER_GROUP + 1)
FAST = {"no_components": "8", "epochs": "30"}


def planted_genres(cold_items: bool = True) -> InteractionData:
    """Users of group g take three warm items of genre g; SEGMENT is the group, GENRE the genre."""
    rng = np.random.default_rng(0)
    warm_items = COLD_OFFSET if cold_items else ITEMS_PER_GROUP
    pairs = [
        (group * (USERS_PER_GROUP + 1) + member, group * ITEMS_PER_GROUP + offset)
        for group in range(GROUPS)
        for member in range(USERS_PER_GROUP)
        for offset in rng.permutation(warm_items)[:3]
    ]
    users, items = (np.array(column, np.int32) for column in zip(*pairs, strict=True))
    segments = [f"s{group}" for group in range(GROUPS) for _ in range(USERS_PER_GROUP + 1)]
    genres = [f"g{group}" for group in range(GROUPS) for _ in range(ITEMS_PER_GROUP)]
    return InteractionData(
        user_indices=users,
        item_indices=items,
        timestamps=np.arange(len(pairs), dtype=np.int64),
        event_types=np.zeros(len(pairs), np.int32),
        event_values=np.full(len(pairs), np.nan, np.float32),
        num_users=NUM_USERS,
        num_items=GROUPS * ITEMS_PER_GROUP,
        user_features=Features(
            (FeatureColumn("SEGMENT", "categorical", np.array(segments, dtype=object)),)
        ),
        item_features=Features(
            (FeatureColumn("GENRE", "categorical", np.array(genres, dtype=object)),)
        ),
    )


def hyperparameters(**given: str) -> dict[str, Any]:
    return Hybrid.validate_hyperparameters({**FAST, **given})


@pytest.fixture(scope="module")
def data() -> InteractionData:
    return planted_genres()


@pytest.fixture(scope="module")
def model(data: InteractionData) -> HybridModel:
    return Hybrid().fit(data, hyperparameters(), seed=5)


def genre_items(group: int) -> set[int]:
    return set(range(group * ITEMS_PER_GROUP, (group + 1) * ITEMS_PER_GROUP))


def new_user(group: int) -> int:
    return group * (USERS_PER_GROUP + 1) + USERS_PER_GROUP


@pytest.mark.parametrize("loss", ["warp", "bpr"])
def test_numpy_top_10_equals_lightfm_predict_for_known_users(loss: str) -> None:
    data = planted_genres(cold_items=False)
    given = hyperparameters(loss=loss)
    ours = Hybrid().fit(data, given, seed=5)

    # The same seed trains the same LightFM, which then ranks with its own predict.
    weights = data.matrix()
    users, items = _metadata(data, "user", given), _metadata(data, "item", given)
    lightfm = _train(weights, users, items, given, seed=5, show_progress=False)
    known = np.unique(data.user_indices)
    for user in known:
        predicted = lightfm.predict(
            int(user),
            np.arange(data.num_items),
            user_features=_with_identity(users),
            item_features=_with_identity(items),
        )
        served = ours.score_users(np.array([user]))[0]
        np.testing.assert_array_equal(
            np.argsort(-served, kind="stable")[:10], np.argsort(-predicted, kind="stable")[:10]
        )
        np.testing.assert_allclose(served, predicted, rtol=1e-4, atol=1e-4)


def test_zero_interaction_item_of_the_preferred_genre_beats_one_of_another_genre(
    model: HybridModel,
) -> None:
    for group in range(GROUPS):
        own_cold = group * ITEMS_PER_GROUP + COLD_OFFSET
        other_cold = ((group + 1) % GROUPS) * ITEMS_PER_GROUP + COLD_OFFSET
        scores = model.score_users(np.arange(group * 9, group * 9 + USERS_PER_GROUP))
        assert (scores[:, own_cold] > scores[:, other_cold]).all()


def test_new_user_with_metadata_only_gets_their_groups_items_first(model: HybridModel) -> None:
    empty = sp.csr_matrix((1, model.num_items), dtype=np.float32)
    for group in range(GROUPS):
        user = np.array([new_user(group)])
        for scores in (model.score_users(user)[0], model.score_histories(empty, user)[0]):
            top = np.argsort(-scores, kind="stable")[:COLD_OFFSET]
            assert set(top.tolist()) <= genre_items(group)


def test_history_alone_folds_in_to_the_groups_items(model: HybridModel) -> None:
    histories = sp.csr_matrix(
        (np.ones(GROUPS, np.float32), (np.arange(GROUPS), np.arange(GROUPS) * ITEMS_PER_GROUP)),
        shape=(GROUPS, model.num_items),
    )
    scores = model.score_histories(histories)
    for group in range(GROUPS):
        top = np.argsort(-scores[group], kind="stable")[:3]
        assert set(top.tolist()) <= genre_items(group)


def test_without_item_features_the_metadata_arrays_are_empty(data: InteractionData) -> None:
    plain = Hybrid().fit(data, hyperparameters(use_item_features="false"), seed=5)
    arrays = plain.arrays()

    assert arrays["item_feature_embeddings"].shape == (0, 8)
    assert arrays["item_feature_names"].tolist() == []
    assert arrays["user_feature_names"].tolist() == ["SEGMENT=s0", "SEGMENT=s1", "SEGMENT=s2"]


def test_item_representations_from_metadata_match_a_cold_items_parts(
    model: HybridModel,
) -> None:
    genre_one = sp.csr_matrix(np.array([[0.0, 1.0, 0.0]], np.float32))
    embeddings, biases = model.item_representations(genre_one)

    assert embeddings.shape == (1, 8)
    np.testing.assert_allclose(embeddings[0], model.arrays()["item_feature_embeddings"][1])
    assert biases[0] == model.arrays()["item_feature_biases"][1]


def test_an_item_without_interactions_is_served_from_its_metadata_alone(
    data: InteractionData, model: HybridModel
) -> None:
    featurized = _metadata(data, "item", hyperparameters())
    cold = np.flatnonzero(np.bincount(data.item_indices, minlength=data.num_items) == 0)
    embeddings, biases = model.item_representations(featurized.matrix[cold])

    assert cold.tolist() == [COLD_OFFSET + group * ITEMS_PER_GROUP for group in range(GROUPS)]
    np.testing.assert_array_equal(model.item_embeddings[cold], embeddings)
    np.testing.assert_array_equal(model.item_biases[cold], biases)


def test_user_indices_must_match_history_rows(model: HybridModel) -> None:
    histories = sp.csr_matrix((2, model.num_items), dtype=np.float32)
    with pytest.raises(InvalidInputError, match="^1 user indices given for 2 history rows$"):
        model.score_histories(histories, np.array([0]))


def test_unknown_loss_is_rejected_naming_the_choices() -> None:
    with pytest.raises(InvalidInputError) as raised:
        Hybrid.validate_hyperparameters({"loss": "hinge"})
    assert str(raised.value) == (
        "hyperparameter 'loss' must be one of 'warp', 'bpr', 'logistic', got 'hinge'"
    )
