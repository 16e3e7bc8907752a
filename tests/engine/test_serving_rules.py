"""Filters, fill-up and promotions at serving time, on the planted catalogue."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.campaign import create_campaign
from engine.errors import InvalidInputError, NotFoundError
from engine.evaluation import top_items
from engine.events import create_event_tracker, put_items
from engine.filter_store import create_filter, delete_filter
from engine.serving_data import ServingData
from engine.serving_rules import Promotion, ScoredUsers, ServingRules, top_n_row, top_n_rows
from engine.store import Store
from engine.training import create_solution
from tests.engine.planted import (
    INTERACTIONS_SCHEMA,
    ITEMS_PER_GROUP,
    planted_rows,
    write_interactions,
)
from tests.engine.planted_catalogue import GENRES, add_catalogue, item_row, write_rows

SEEN: dict[str, set[str]] = {}
for user, item, *_ in planted_rows():
    SEEN.setdefault(user, set()).add(item)
GENRE_OF = {f"i{g}-{n:02d}": GENRES[g] for g in range(3) for n in range(ITEMS_PER_GROUP)}


def new_group(directory):
    group = Store(directory / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(directory / "i.csv", planted_rows()))
    add_catalogue(group, directory)
    create_filter(group, "without", "EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    create_filter(group, "only", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    create_filter(
        group, "kids", 'EXCLUDE ItemID WHERE Items.GENRES IN ("Horror") IF CurrentUser.AGE < 18'
    )
    return group


def new_campaign(group):
    solution = create_solution(group, "als", "user-personalization", hyperparameters={"factors": 8})
    return create_campaign(group, "home", solution.train())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A campaign on a group nothing changes; tests that change data build their own."""
    group = new_group(tmp_path_factory.mktemp("served"))
    return group, new_campaign(group)


@pytest.fixture(scope="module")
def campaign(served):
    return served[1]


def ids(answer):
    return [item.item_id for item in answer.items]


def genres(*names):
    return {"GENRES": ",".join(f'"{name}"' for name in names)}


def test_an_exclude_filter_removes_the_genre_and_keeps_the_length(campaign):
    answer = campaign.get_recommendations(
        "u0-03", 20, filter="without", filter_values=genres("Comedy")
    )
    assert len(answer.items) == 20
    assert not {GENRE_OF[item] for item in ids(answer)} & {"Comedy"}
    scores = [item.score for item in answer.items]
    assert scores == sorted(scores, reverse=True)


def test_an_include_filter_returns_only_the_genre_in_the_unfiltered_order(campaign):
    unfiltered = ids(campaign.get_recommendations("u1-07", 500))
    answer = campaign.get_recommendations(
        "u1-07", 10, filter="only", filter_values=genres("Horror")
    )
    assert ids(answer) == [item for item in unfiltered if GENRE_OF[item] == "Horror"][:10]


def test_if_current_user_applies_the_expression_to_young_users_only(campaign):
    young = campaign.get_recommendations("u0-03", 40, filter="kids")  # aged 13
    adult = campaign.get_recommendations("u0-20", 40, filter="kids")  # aged 30
    assert "Horror" not in {GENRE_OF[item] for item in ids(young)}
    assert len(young.items) == 3 * ITEMS_PER_GROUP - len(SEEN["u0-03"]) - ITEMS_PER_GROUP
    assert len(adult.items) == 3 * ITEMS_PER_GROUP - len(SEEN["u0-20"])


def test_an_unknown_user_gets_popular_items_that_pass_the_filter(campaign):
    answer = campaign.get_recommendations(
        "stranger", 3, filter="only", filter_values=genres("Drama")
    )
    takers = {item: sum(item in seen for seen in SEEN.values()) for item in GENRE_OF}
    drama = sorted((item for item in GENRE_OF if item.startswith("i1")), key=lambda i: -takers[i])
    assert ids(answer) == drama[:3]
    assert [item.score for item in answer.items] == [float(takers[i]) for i in drama[:3]]
    assert answer.fallback == "popularity"
    assert [item.reason for item in answer.items] == [("Popular item",)] * 3


def test_request_errors_name_the_filter_or_the_values(campaign, tmp_path):
    with pytest.raises(NotFoundError, match="^filter 'missing' does not exist in dataset group"):
        campaign.get_recommendations("u0-03", 5, filter="missing")
    with pytest.raises(InvalidInputError, match="^filter_values were given without a filter$"):
        campaign.get_recommendations("u0-03", 5, filter_values=genres("Drama"))
    with pytest.raises(InvalidInputError, match=r"^filter value for \$GENRES is missing; "):
        campaign.get_recommendations("u0-03", 5, filter="only")
    elsewhere = Store(tmp_path).create_dataset_group("elsewhere")
    stranger = create_filter(elsewhere, "x", 'EXCLUDE ItemID WHERE Items.ITEM_ID IN ("a")')
    message = "filter 'x' belongs to dataset group 'elsewhere', not 'planted'"
    with pytest.raises(InvalidInputError, match="^" + re.escape(message) + "$"):
        campaign.get_recommendations("u0-03", 5, filter=stranger)


def test_a_promotion_takes_its_share_of_slots_spread_and_marked(campaign):
    push = Promotion("horror-push", 20, "only", genres("Horror"))
    answer = campaign.get_recommendations(
        "u0-03", 10, filter="without", filter_values=genres("Horror"), promotion=push
    )
    promoted = [
        (position, item) for position, item in enumerate(answer.items) if item.promotion_name
    ]
    assert len(answer.items) == 10
    assert [GENRE_OF[item.item_id] for _, item in promoted] == ["Horror", "Horror"]
    assert promoted[0][0] < 5 <= promoted[1][0]
    assert promoted[0][1].score >= promoted[1][1].score
    assert all(item.reason == ("Promoted item",) for _, item in promoted)
    regular = [item for item in answer.items if not item.promotion_name]
    assert "Horror" not in {GENRE_OF[item.item_id] for item in regular}
    assert answer.to_dict()["itemList"][promoted[0][0]] == {
        "itemId": promoted[0][1].item_id,
        "score": promoted[0][1].score,
        "promotionName": "horror-push",
        "reason": ["Promoted item"],
    }
    again = campaign.get_recommendations(
        "u0-03", 10, filter="without", filter_values=genres("Horror"), promotion=push
    )
    assert again.items == answer.items


def test_a_promotion_with_too_few_matches_takes_as_many_as_there_are(served):
    group, campaign = served
    create_filter(group, "one-item", 'INCLUDE ItemID WHERE Items.ITEM_ID IN ("i2-05")')
    answer = campaign.get_recommendations("u0-03", 10, promotion=Promotion("one", 50, "one-item"))
    assert [item.item_id for item in answer.items if item.promotion_name] == ["i2-05"]
    assert len(answer.items) == 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bad name", "percent_promoted_items": 10, "filter": "x"}, "name 'bad name'"),
        ({"name": "p", "percent_promoted_items": 0, "filter": "x"}, "an integer from 1 to 100"),
        ({"name": "p", "percentPromotedItems": 5}, "this one has no 'filter'"),
        ({"name": "p", "percentPromotedItems": 5, "filterName": "x", "x": 1}, "unknown key 'x'"),
    ],
)
def test_promotions_are_checked(fields, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        Promotion.from_dict(fields)


def test_a_promotion_reads_the_services_shape():
    given = {"name": "p", "percentPromotedItems": 10, "filterName": "f", "filterValues": {"A": "1"}}
    assert Promotion.from_dict(given) == Promotion("p", 10, "f", {"A": "1"})
    assert Promotion("p", 10, "f").slots(25) == 3


def test_a_filter_that_leaves_too_few_scored_items_is_filled_with_popular_ones(served):
    group, campaign = served
    rules = ServingRules(ServingData(group, campaign.item_ids()), np.arange(48.0))
    scores = np.full(48, np.nan)
    scores[[0, 1, 2, 17]] = [0.5, 0.9, 0.1, 0.7]
    create_filter(group, "family", 'INCLUDE ItemID WHERE Items.GENRES IN ("Family")')
    items = rules.finish(scores, 5, excluded=np.array([46]), filter="family")
    assert [(item.item_id, item.score, item.reason) for item in items] == [
        ("i0-00", 0.5, ()),
        ("i0-02", 0.1, ()),
        ("i2-12", None, ("Popular item",)),
        ("i2-10", None, ("Popular item",)),
        ("i2-08", None, ("Popular item",)),
    ]
    assert items[2].to_dict() == {"itemId": "i2-12", "reason": ["Popular item"]}


@pytest.fixture
def changing(tmp_path):
    group = new_group(tmp_path)
    return group, new_campaign(group)


def test_item_changes_reach_the_next_request(changing, tmp_path):
    group, campaign = changing
    before = campaign.get_recommendations(
        "u1-07", 40, filter="only", filter_values=genres("Comedy")
    )
    assert "i2-03" not in ids(before)

    comedy = '{"genres": "Comedy", "price": 1.0, "inStock": true}'
    put_items(group, [{"item_id": "i2-03", "properties": comedy}])
    after = campaign.get_recommendations("u1-07", 40, filter="only", filter_values=genres("Comedy"))
    assert "i2-03" in ids(after)

    rows = [item_row(0, n) | {"GENRES": "Western"} for n in range(ITEMS_PER_GROUP)]
    group.import_csv("ITEMS", write_rows(tmp_path / "westerns.csv", rows), mode="FULL")
    westerns = campaign.get_recommendations(
        "u1-07", 40, filter="only", filter_values=genres("Western")
    )
    assert sorted(ids(westerns)) == [f"i0-{n:02d}" for n in range(ITEMS_PER_GROUP)]


def test_interaction_conditions_see_the_whole_history_and_live_events(changing):
    group, campaign = changing
    data = ServingData(group, campaign.item_ids())
    create_filter(group, "clicked", 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")')
    create_filter(group, "watched", 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE = "WATCH"')

    def kept(name):
        mask = data.item_mask(data.resolve(name).expression, None, "u1-07")
        return {str(campaign.item_ids()[i]) for i in np.flatnonzero(mask)}

    assert kept("watched") == SEEN["u1-07"]
    assert kept("clicked") == set()
    tracker = create_event_tracker(group, "web")
    event = {"event_type": "click", "sent_at": 1_710_000_000, "item_id": "i2-04"}
    tracker.put_events("s1", [event], user_id="u1-07")
    assert kept("clicked") == {"i2-04"}
    assert kept("watched") == SEEN["u1-07"]


def test_a_deleted_or_replaced_filter_is_noticed(changing):
    group, campaign = changing
    create_filter(group, "temporary", 'INCLUDE ItemID WHERE Items.ITEM_ID IN ("i2-01")')
    assert ids(campaign.get_recommendations("u0-03", 5, filter="temporary")) == ["i2-01"]
    delete_filter(group, "temporary")
    with pytest.raises(NotFoundError, match="filter 'temporary' does not exist"):
        campaign.get_recommendations("u0-03", 5, filter="temporary")
    create_filter(group, "temporary", 'INCLUDE ItemID WHERE Items.ITEM_ID IN ("i2-02")')
    assert ids(campaign.get_recommendations("u0-03", 5, filter="temporary")) == ["i2-02"]


# Invariants, with random requests.


@st.composite
def requests(draw):
    user = f"u{draw(st.integers(0, 2))}-{draw(st.integers(0, 29)):02d}"
    if draw(st.booleans()):
        user = "stranger"
    chosen = draw(st.lists(st.sampled_from(GENRES + ("Family",)), min_size=1, max_size=3))
    return user, draw(st.sampled_from(["without", "only"])), chosen, draw(st.integers(1, 48))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests())
def test_nothing_a_filter_excludes_is_ever_returned(campaign, drawn):
    user, name, chosen, count = drawn
    answer = campaign.get_recommendations(user, count, filter=name, filter_values=genres(*chosen))
    returned = ids(answer)

    def matches(item):
        tags = set(GENRE_OF[item].split("|"))
        if int(item[-2:]) % 2 == 0:
            tags.add("Family")
        return bool(tags & set(chosen))

    allowed = [
        item
        for item in ids(campaign.get_recommendations(user, 500))
        if matches(item) == (name == "only")
    ]
    assert returned == allowed[:count]
    assert not set(returned) & SEEN.get(user, set())


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 700),
    st.integers(1, 30),
    st.integers(0, 2**31),
    st.sampled_from([np.float32, np.float64]),
)
def test_top_n_rows_is_top_items_row_by_row(rows, width, count, seed, dtype):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 40, size=(rows, width)).astype(dtype)  # many ties
    special = rng.random((rows, width))
    scores[special < 0.1] = -np.inf
    scores[(special >= 0.1) & (special < 0.12)] = np.nan
    scores[(special >= 0.12) & (special < 0.13)] = np.inf
    indices, values = top_n_rows(scores, count)
    for row in range(rows):
        expected = top_items(scores[row], count)
        assert indices[row, : expected.size].tolist() == expected.tolist()
        assert (indices[row, expected.size :] == -1).all()
        assert np.array_equal(values[row, : expected.size], scores[row, expected])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 3000),
    st.integers(1, 30),
    st.integers(0, 2**31),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([0.0, 0.05, 0.9, 1.0]),
)
def test_top_n_row_is_top_items(width, count, seed, dtype, share_excluded):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 60, size=width).astype(dtype)  # many ties at the cut-off
    special = rng.random(width)
    scores[special < share_excluded] = -np.inf  # up to a whole row of excluded items
    scores[(special >= share_excluded) & (special < share_excluded + 0.01)] = np.nan
    scores[(special >= share_excluded + 0.01) & (special < share_excluded + 0.012)] = np.inf
    assert top_n_row(scores, count).tolist() == top_items(scores, count).tolist()


def test_top_n_rows_is_exact_on_a_wide_catalogue():
    rng = np.random.default_rng(7)
    scores = rng.standard_normal((20, 5000)).astype(np.float32)
    scores[3, :4990] = -np.inf  # a row with fewer finite scores than asked for
    scores[5] = np.round(scores[5])  # ties at the cut-off
    indices, _ = top_n_rows(scores, 25)
    for row in range(20):
        expected = top_items(scores[row], 25)
        assert indices[row, : expected.size].tolist() == expected.tolist()


def test_rank_block_gives_what_finish_gives_row_by_row(served):
    group, campaign = served
    catalogue = campaign.item_ids()
    rules = ServingRules(ServingData(group, catalogue), np.arange(48.0) % 7)
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((6, 48)).astype(np.float32)
    scores[2, 5:] = np.nan  # a short row to fill
    excluded = sp.csr_matrix((np.ones(4, np.int8), ([0, 0, 2, 4], [1, 7, 3, 9])), shape=(6, 48))
    drama, no_comedy = ("only", genres("Drama")), ("without", genres("Comedy"))
    filters = [drama, (None, None), no_comedy, drama, (None, None), no_comedy]

    masks = [rules.allowed_items(*chosen) for chosen in filters]
    scored = ScoredUsers(scores.copy(), excluded.indptr, excluded.indices, np.zeros(6, bool))
    block = rules.rank_block(scored, 12, masks)
    for row, (name, values) in enumerate(filters):
        expected = rules.finish(
            scores[row], 12, excluded=excluded[row].indices, filter=name, filter_values=values
        )
        kept = block.indices[row][block.indices[row] >= 0]
        assert [str(catalogue[i]) for i in kept] == [item.item_id for item in expected]
        assert block.filled[row, : kept.size].tolist() == [i.score is None for i in expected]


# Related items and rankings take the same filters


def test_similar_items_follow_a_current_item_filter(served):
    group, campaign = served
    create_filter(group, "same-genre", "INCLUDE ItemID WHERE Items.GENRES IN CurrentItem.GENRES")
    answer = campaign.get_similar_items("i2-03", 15, filter="same-genre")
    assert sorted(ids(answer)) == sorted(f"i2-{n:02d}" for n in range(16) if n != 3)
    delete_filter(group, "same-genre")


def test_similar_items_leave_out_an_excluded_genre_and_keep_the_length(campaign):
    answer = campaign.get_similar_items(
        "i0-01", 20, filter="without", filter_values=genres("Comedy")
    )
    assert len(answer.items) == 20
    assert {GENRE_OF[item] for item in ids(answer)} <= {"Drama", "Horror"}


def test_similar_items_of_an_unknown_item_are_popular_items_that_pass_the_filter(campaign):
    answer = campaign.get_similar_items("nope", 5, filter="only", filter_values=genres("Horror"))
    assert answer.fallback == "popularity"
    assert {GENRE_OF[item] for item in ids(answer)} == {"Horror"}
    assert all(item.reason == ("Popular item",) for item in answer.items)


def test_a_filtered_ranking_drops_excluded_items_and_keeps_unknown_ones_last(campaign):
    ranking = campaign.get_personalized_ranking(
        "u0-03",
        ["i1-01", "i0-05", "nope", "i2-07", "i0-09"],
        filter="without",
        filter_values=genres("Drama"),
    )
    listed = ids(ranking)
    assert sorted(listed[:3]) == ["i0-05", "i0-09", "i2-07"]
    assert listed[3:] == ["nope"]
    assert ranking.items[3].score is None


def test_a_misspelt_value_is_refused_even_after_a_request_without_values(campaign):
    campaign.get_recommendations("u0-03", 5, filter="without")
    with pytest.raises(
        InvalidInputError,
        match=r"^filter value for \$GENRE matches no placeholder of the filter "
        r"\(it uses \$GENRES\)$",
    ):
        campaign.get_recommendations("u0-03", 5, filter="without", filter_values={"GENRE": '"x"'})
