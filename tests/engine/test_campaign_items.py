"""Campaigns of every recipe: top-N, similar items and personalized ranking on planted data."""

import csv

import numpy as np
import pytest

from engine.campaign import Campaign, create_campaign
from engine.errors import InvalidInputError, InvalidStateError
from engine.store import Store
from engine.training import create_solution
from recipes import available_recipes
from tests.engine.planted import (
    GROUPS,
    INTERACTIONS_SCHEMA,
    ITEMS_PER_GROUP,
    USERS_PER_GROUP,
    planted_rows,
    write_interactions,
)

CATALOGUE_IDS = {f"i{g}-{n:02d}" for g in range(GROUPS) for n in range(ITEMS_PER_GROUP)}
SEEN: dict[str, set[str]] = {}
for user, item, *_ in planted_rows():
    SEEN.setdefault(user, set()).add(item)

ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}
USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "SEGMENT", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}
# Small settings so that every recipe trains in a fraction of a second.
FAST = {
    "user-personalization": {"factors": 8},
    "personalized-ranking": {"factors": 8},
    "hybrid": {"no_components": 8, "epochs": 10},
    "similar-items": {"num_neighbours": 5},
    "trending-now": {"trend_discovery_frequency": "1 day"},
}
BUILT_IN = [
    "content-based",
    "hybrid",
    "personalized-ranking",
    "popularity-count",
    "similar-items",
    "trending-now",
    "user-personalization",
]


def write_rows(path, header, rows):
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """The planted interactions, each item's group as its GENRE, each user's as SEGMENT."""
    root = tmp_path_factory.mktemp("items")
    group = Store(root / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(root / "i.csv", planted_rows()))
    items = [(f"i{g}-{n:02d}", f"g{g}") for g in range(GROUPS) for n in range(ITEMS_PER_GROUP)]
    users = [(f"u{g}-{m:02d}", f"s{g}") for g in range(GROUPS) for m in range(USERS_PER_GROUP)]
    group.create_dataset("ITEMS", ITEMS_SCHEMA)
    group.import_csv("ITEMS", write_rows(root / "items.csv", ["ITEM_ID", "GENRE"], items))
    group.create_dataset("USERS", USERS_SCHEMA)
    group.import_csv("USERS", write_rows(root / "users.csv", ["USER_ID", "SEGMENT"], users))
    return group


CAMPAIGNS: dict[str, Campaign] = {}


def campaign_of(group, recipe: str) -> Campaign:
    """A campaign of ``recipe`` on the planted group, trained once per test module."""
    if recipe not in CAMPAIGNS:
        name = recipe.replace("-", "")
        version = create_solution(group, name, recipe, hyperparameters=FAST.get(recipe)).train()
        CAMPAIGNS[recipe] = create_campaign(group, name, version)
    return CAMPAIGNS[recipe]


def ids(answer) -> list[str]:
    return [item.item_id for item in answer.items]


def test_every_built_in_recipe_is_served_here():
    assert set(BUILT_IN) <= set(available_recipes())


@pytest.mark.parametrize("recipe", BUILT_IN)
def test_top_n_of_every_recipe_skips_seen_items_and_stops_at_the_catalogue(group, recipe):
    campaign = campaign_of(group, recipe)
    for user in ("u0-00", "u2-29"):
        listed = ids(campaign.get_recommendations(user, num_results=500))
        assert sorted(listed) == sorted(CATALOGUE_IDS - SEEN[user])
    assert len(campaign.get_recommendations("stranger", num_results=10).items) == 10


@pytest.mark.parametrize("recipe", BUILT_IN)
def test_ranking_of_every_recipe_is_a_permutation_with_unknown_items_last(group, recipe):
    campaign = campaign_of(group, recipe)
    wanted = ["i2-05", "nope", "i0-01", "i1-09", "gone"]
    ranking = campaign.get_personalized_ranking("u1-03", wanted)

    assert sorted(ids(ranking)) == sorted(wanted)
    assert ids(ranking)[3:] == ["nope", "gone"]
    scores = [item.score for item in ranking.items]
    assert scores[3:] == [None, None]
    assert scores[:3] == sorted(scores[:3], reverse=True)


@pytest.mark.parametrize("recipe", ["popularity-count", "trending-now"])
def test_recipes_without_item_similarity_refuse_similar_items_in_a_sentence(group, recipe):
    campaign = campaign_of(group, recipe)
    message = (
        f"campaign '{campaign.name}' serves a {recipe} version, which cannot relate items; "
        "deploy a similar-items version (or a factor model such as user-personalization) to "
        "get similar items"
    )
    with pytest.raises(InvalidStateError) as raised:
        campaign.get_similar_items("i0-01")
    assert str(raised.value) == message


@pytest.mark.parametrize("recipe", ["similar-items", "user-personalization", "content-based"])
def test_similar_items_of_a_planted_item_come_from_its_group(group, recipe):
    answer = campaign_of(group, recipe).get_similar_items("i1-04", num_results=5)

    assert len(answer.items) == 5
    assert all(item.startswith("i1-") and item != "i1-04" for item in ids(answer))
    assert all(item.reason == () for item in answer.items)
    assert answer.fallback is None


def test_an_unknown_item_gets_popular_items_marked_as_such(group):
    answer = campaign_of(group, "similar-items").get_similar_items("no-such-item", 3)

    assert ids(answer) == ["i0-00", "i1-00", "i2-00"]
    assert all(item.reason == ("Popular item",) for item in answer.items)
    assert answer.fallback == "popularity"


def test_popular_items_fill_the_slots_the_neighbour_table_leaves(group):
    answer = campaign_of(group, "similar-items").get_similar_items("i2-07", num_results=20)
    listed = ids(answer)

    reasons = [item.reason for item in answer.items]
    assert reasons == [()] * 5 + [("Popular item",)] * 15
    assert len(set(listed)) == 20 and "i2-07" not in listed
    assert listed[5:7] == ["i0-00", "i1-00"]


def test_ranking_puts_the_users_own_group_first_and_omits_scores_of_unknown_items(group):
    ranking = campaign_of(group, "user-personalization").get_personalized_ranking(
        "u1-07", ["i0-03", "i2-11", "unknown", "i1-06"]
    )
    response = ranking.to_dict()

    assert ids(ranking)[0] == "i1-06"
    assert response["personalizedRanking"][-1] == {"itemId": "unknown"}
    assert set(response) == {"personalizedRanking", "recommendationId"}
    assert ranking.fallback is None


def test_ranking_for_an_unknown_user_orders_by_popularity_with_the_reason(group):
    campaign = campaign_of(group, "user-personalization")
    _, arrays = campaign.version.load_model()
    popularity = dict(zip(arrays["item_ids"].tolist(), arrays["item_popularity"], strict=True))
    wanted = ["i0-03", "i2-00", "i1-06", "i0-00"]
    ranking = campaign.get_personalized_ranking("stranger", wanted)

    assert ids(ranking) == sorted(wanted, key=lambda item: -popularity[item])
    assert all(item.reason == ("Popular item",) for item in ranking.items)
    assert ranking.fallback == "popularity"


@pytest.mark.parametrize(
    ("input_list", "message"),
    [
        ([], "input_list must hold 1 to 500 item ids, got 0"),
        ([f"i{n}" for n in range(501)], "input_list must hold 1 to 500 item ids, got 501"),
        (["i0-01", "i0-02", "i0-01"], "input_list holds item 'i0-01' more than once"),
        ("i0-01", "input_list must be a list of item ids, not one string"),
    ],
)
def test_bad_input_lists_are_refused_with_the_reason(group, input_list, message):
    with pytest.raises(InvalidInputError, match=f"^{message}$"):
        campaign_of(group, "popularity-count").get_personalized_ranking("u0-00", input_list)


def test_an_unknown_user_of_trending_now_gets_the_trend_not_a_fallback(group):
    campaign = campaign_of(group, "trending-now")
    model, arrays = campaign.version.load_model()
    trend = np.asarray(model.arrays()["item_trend"], dtype=np.float64)
    answer = campaign.get_recommendations("stranger", num_results=5)

    expected = np.lexsort((np.arange(trend.size), -trend))[:5]
    assert ids(answer) == arrays["item_ids"][expected].tolist()
    assert answer.fallback is None
    assert all(item.reason == () for item in answer.items)
