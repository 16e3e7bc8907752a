"""Filters on MovieLens 100K: real multi-valued genres, real users."""

import pytest

from datasets import convert_movielens
from datasets.movielens import DEFAULT_GENRES
from engine import Store, create_campaign, create_filter, create_solution
from tests.shared_datasets import ML_100K


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    if not ML_100K.is_dir():
        pytest.skip("../shared/datasets/ml-100k is not present")
    root = tmp_path_factory.mktemp("ml")
    group = Store(root / "store").create_dataset_group("movies")
    paths = convert_movielens(ML_100K, root / "csv")
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type])
    version = create_solution(group, "als", "user-personalization").train()
    genres = {}
    for row in group.dataset("ITEMS").read_table(["ITEM_ID", "GENRES"]).to_pylist():
        genres[row["ITEM_ID"]] = set(row["GENRES"].split("|"))
    return group, create_campaign(group, "home", version), genres


@pytest.mark.parametrize("kept", ["Drama", "Comedy", "Horror"])
def test_excluding_every_genre_but_one_returns_only_that_genre_still_full(movies, kept):
    group, campaign, genres = movies
    others = ", ".join(f'"{genre}"' for genre in DEFAULT_GENRES if genre != kept)
    create_filter(group, f"only-{kept.lower()}", f"EXCLUDE ItemID WHERE Items.GENRES IN ({others})")
    users = [*map(str, range(1, 944, 47)), "no-such-user"]
    for user in users:
        answer = campaign.get_recommendations(user, 25, filter=f"only-{kept.lower()}")
        assert len(answer.items) == 25
        assert all(genres[item.item_id] == {kept} for item in answer.items)


def test_a_placeholder_filter_on_release_year_and_age_on_movielens(movies):
    group, campaign, _ = movies
    create_filter(
        group,
        "recent-for-young",
        "INCLUDE ItemID WHERE Items.YEAR >= $YEAR IF CurrentUser.AGE < 30",
    )
    years = {
        row["ITEM_ID"]: row["YEAR"]
        for row in group.dataset("ITEMS").read_table(["ITEM_ID", "YEAR"]).to_pylist()
    }
    young, older = "1", "2"  # aged 24 and 53 in u.user
    answer = campaign.get_recommendations(
        young, 50, filter="recent-for-young", filter_values={"YEAR": "1997"}
    )
    assert len(answer.items) == 50
    assert min(years[item.item_id] for item in answer.items) >= 1997
    unfiltered = campaign.get_recommendations(older, 50)
    same = campaign.get_recommendations(
        older, 50, filter="recent-for-young", filter_values={"YEAR": "1997"}
    )
    assert same.items == unfiltered.items
