"""The main job on real data: MovieLens 100K and the bundled video-on-demand data."""

import pytest

from datasets import convert_movielens, vod_paths
from engine import Store, create_campaign, create_solution
from tests.shared_datasets import ML_100K

NDCG_10 = "normalized_discounted_cumulative_gain_at_10"


def _import_all(group, paths):
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type])


@pytest.fixture(scope="module")
def movielens(tmp_path_factory):
    if not ML_100K.is_dir():
        pytest.skip("../shared/datasets/ml-100k is not present")
    root = tmp_path_factory.mktemp("ml")
    group = Store(root / "store").create_dataset_group("movies")
    _import_all(group, convert_movielens(ML_100K, root / "csv"))
    return group


def test_als_clearly_beats_popularity_on_movielens_100k(movielens):
    als = create_solution(movielens, "als", "user-personalization").train()
    popular = create_solution(movielens, "popular", "popularity-count").train()
    assert als.manifest["num_interactions"] == 100_000
    assert als.manifest["num_test_users"] == 94
    # Measured with seed 42: ALS 0.151, popularity 0.088.
    assert 0.05 < popular.metrics[NDCG_10] < 0.12
    assert als.metrics[NDCG_10] > 0.12
    assert als.metrics[NDCG_10] > 1.4 * popular.metrics[NDCG_10]
    assert als.metrics["precision_at_10"] > 1.4 * popular.metrics["precision_at_10"]

    campaign = create_campaign(movielens, "home", als)
    answer = campaign.get_recommendations("42", num_results=10)
    assert len(answer.items) == 10
    assert answer.fallback is None


def test_the_bundled_data_trains_and_serves(tmp_path):
    group = Store(tmp_path).create_dataset_group("vod")
    _import_all(group, vod_paths())
    version = create_solution(
        group, "als", "user-personalization", hyperparameters={"event_weights": "click=0.25"}
    ).train()
    popular = create_solution(group, "popular", "popularity-count").train()
    assert version.metrics[NDCG_10] > 1.2 * popular.metrics[NDCG_10]


def test_hybrid_with_genres_and_demographics_beats_als_and_popularity_on_new_items(movielens):
    from engine.experiments import ExperimentSettings, run_experiment
    from engine.training import SolutionConfig

    metadata = {"USERS": ["AGE_GROUP", "GENDER", "OCCUPATION"], "ITEMS": ["GENRES"]}
    configs = {
        "popularity": SolutionConfig("popularity-count"),
        "als": SolutionConfig("user-personalization"),
        "hybrid": SolutionConfig("hybrid", included_columns=metadata),
    }
    result = run_experiment(movielens, configs, ExperimentSettings(protocols=("new-items",)))
    ndcg = {name: result.value(name, "new-items", NDCG_10) for name in configs}

    # Measured with seed 42: hybrid 0.238; ALS and popularity know nothing of the 168 new
    # items and rank them at chance, 0.067 (0.020-0.075 for seeds 1-3, hybrid 0.25-0.28).
    assert result.test_user_counts()["new-items"]["hybrid"] == 937
    assert ndcg["als"] == ndcg["popularity"] < 0.1
    assert ndcg["hybrid"] > 0.2
    assert ndcg["hybrid"] > 2.5 * ndcg["als"]
