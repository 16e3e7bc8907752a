import numpy as np
import pytest

from engine.errors import InsufficientDataError, InvalidInputError, NotFoundError
from engine.store import Store
from engine.training import create_solution, get_solution, list_solutions
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions

ALS = {"factors": 8, "iterations": 10}


def test_threshold_without_event_type_is_refused(planted_group):
    with pytest.raises(InvalidInputError, match="event_value_threshold needs event_type"):
        create_solution(planted_group, "s", "popularity-count", event_value_threshold=0.5)


def test_unknown_recipe_and_hyperparameter_are_refused_at_creation(planted_group):
    with pytest.raises(InvalidInputError, match="unknown recipe 'als'; available recipes: "):
        create_solution(planted_group, "s", "als")
    with pytest.raises(InvalidInputError, match="has no hyperparameter 'factor'"):
        create_solution(planted_group, "s", "user-personalization", hyperparameters={"factor": 3})


def test_version_has_the_services_metrics_and_counts(planted_group):
    version = create_solution(
        planted_group, "als", "user-personalization", hyperparameters=ALS
    ).train()
    assert version.status == "ACTIVE"
    assert sorted(version.metrics) == sorted(
        ["coverage", "mean_reciprocal_rank_at_25"]
        + [f"normalized_discounted_cumulative_gain_at_{k}" for k in (5, 10, 25)]
        + [f"precision_at_{k}" for k in (5, 10, 25)]
    )
    assert version.manifest["num_interactions"] == 90 * 14
    assert version.manifest["num_test_users"] == 9
    # A test user's one truth item is among the 3 unseen items of their group, so when ALS
    # learns the groups every test user has exactly one hit in the top 3.
    assert version.metrics["precision_at_5"] == pytest.approx(1 / 5)
    assert version.metrics["mean_reciprocal_rank_at_25"] >= 1 / 3


def test_als_clearly_beats_popularity_on_planted_groups(planted_group):
    als = create_solution(planted_group, "als", "user-personalization", hyperparameters=ALS)
    popular = create_solution(planted_group, "popular", "popularity-count")
    als_ndcg = als.train().metrics["normalized_discounted_cumulative_gain_at_10"]
    popular_ndcg = popular.train().metrics["normalized_discounted_cumulative_gain_at_10"]
    assert als_ndcg > 1.5 * popular_ndcg


def test_two_trainings_with_one_seed_are_identical(planted_group):
    solution = create_solution(planted_group, "als", "user-personalization", hyperparameters=ALS)
    first, second = solution.train(), solution.train()
    assert [first.version_id, second.version_id] == ["v1", "v2"]
    assert first.metrics == second.metrics
    first_model, _ = first.load_model()
    second_model, _ = second.load_model()
    for name, array in first_model.arrays().items():
        assert np.array_equal(array, second_model.arrays()[name])


def test_event_value_threshold_keeps_events_at_or_above_it(planted_group):
    rows = planted_rows()
    kept = sum(np.float32(row[3]) >= np.float32(0.2) for row in rows)
    solution = create_solution(
        planted_group, "s", "popularity-count", event_type="watch", event_value_threshold=0.2
    )
    assert solution.train().manifest["num_interactions"] == kept


def test_too_few_interactions_fail_with_the_services_reason(tmp_path):
    group = Store(tmp_path / "store").create_dataset_group("small")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(tmp_path / "i.csv", planted_rows()[:900]))
    solution = create_solution(group, "s", "popularity-count")
    with pytest.raises(InsufficientDataError, match="has 900 interactions .* at least 1000"):
        solution.train()
    assert solution.versions()[0].status == "CREATE FAILED"
    with pytest.raises(NotFoundError, match="has no ACTIVE version"):
        solution.version()


def test_too_few_users_with_two_interactions_fail(tmp_path):
    rows = [(f"u{n}", f"i{n % 50}", "watch", "1.0", 1_700_000_000 + n) for n in range(1000)]
    rows += [("u0", "i1", "watch", "1.0", 1_700_000_000)]
    group = Store(tmp_path / "store").create_dataset_group("flat")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(tmp_path / "i.csv", rows))
    with pytest.raises(InsufficientDataError, match="fewer than 25 users with at least 2"):
        create_solution(group, "s", "popularity-count").train()


def test_solutions_are_listed_and_reopened(planted_group):
    create_solution(planted_group, "b", "popularity-count")
    create_solution(planted_group, "a", "user-personalization", hyperparameters={"factors": "8"})
    assert [solution.name for solution in list_solutions(planted_group)] == ["a", "b"]
    assert get_solution(planted_group, "a").config.hyperparameters["factors"] == 8


def _vod_group(tmp_path):
    from datasets import vod_paths

    group = Store(tmp_path / "store").create_dataset_group("vod")
    paths = vod_paths()
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type])
    return group


def test_features_follow_the_column_choice(tmp_path):
    from engine.training import select_interactions, with_features

    group = _vod_group(tmp_path)
    cache = group.interaction_cache()
    solution = create_solution(
        group,
        "s",
        "popularity-count",
        included_columns={"users": ["COUNTRY"]},
        excluded_columns={"ITEMS": ["NOISE_TAG"]},
    )
    data = with_features(select_interactions(cache, solution.config), group, cache, solution.config)
    assert data.user_features.names == ("COUNTRY",)
    # DURATION is numeric, DESCRIPTION textual; CREATION_TIMESTAMP is reserved, not a feature.
    assert data.item_features.names == (
        "CATEGORY",
        "COMPETITION",
        "PLAYERS",
        "DURATION",
        "DESCRIPTION",
    )
    assert [column.kind for column in data.item_features.columns] == [
        "categorical",
        "categorical",
        "categorical",
        "numeric",
        "textual",
    ]
    assert data.item_features.columns[0].values.shape == (len(cache.item_ids),)


def test_a_column_choice_naming_a_missing_column_is_refused(tmp_path):
    group = _vod_group(tmp_path)
    with pytest.raises(InvalidInputError, match="names ITEMS.GENRE, which the ITEMS dataset"):
        create_solution(group, "s", "popularity-count", excluded_columns={"ITEMS": ["GENRE"]})


def test_a_training_window_keeps_only_its_events_and_is_recorded(planted_group):
    rows = planted_rows()
    newest = max(row[4] for row in rows)
    start = newest + 1 - 100 * 86400
    in_window = [row for row in rows if row[4] >= start]
    solution = create_solution(
        planted_group, "recent", "popularity-count", training_window_days=100
    )
    version = solution.train()

    assert version.manifest["num_interactions"] == len(in_window) < len(rows)
    assert version.manifest["training_window"] == {"start": start, "end": newest + 1}
    model, arrays = version.load_model()
    item_ids = [str(item) for item in arrays["item_ids"]]
    counted = {item: len({row[0] for row in in_window if row[1] == item}) for item in item_ids}
    np.testing.assert_array_equal(model.arrays()["item_popularity"], list(counted.values()))


def test_a_window_given_as_dates_is_stored_in_epoch_seconds(planted_group):
    solution = create_solution(
        planted_group,
        "dated",
        "popularity-count",
        training_window_start="2023-11-20",
        training_window_end="2024-01-01T00:00:00",
    )
    assert (solution.config.training_window_start, solution.config.training_window_end) == (
        1_700_438_400,
        1_704_067_200,
    )
    reopened = get_solution(planted_group, "dated").config
    assert reopened.training_window_end == 1_704_067_200
    assert reopened.training_window_days is None


def test_the_popularity_fallback_follows_the_solutions_recency_half_life(planted_group):
    from engine.campaign import create_campaign

    solution = create_solution(
        planted_group,
        "fresh",
        "popularity-count",
        hyperparameters={"recency_half_life_days": "5"},
    )
    version = solution.train()
    model, arrays = version.load_model()
    np.testing.assert_array_equal(arrays["item_popularity"], model.arrays()["item_popularity"])

    answer = create_campaign(planted_group, "fresh", version).get_recommendations("new-user", 5)
    expected = np.argsort(-arrays["item_popularity"], kind="stable")[:5]
    assert [item.item_id for item in answer.items] == [str(arrays["item_ids"][i]) for i in expected]
    assert answer.fallback == "popularity"
