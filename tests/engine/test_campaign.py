import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.campaign import create_campaign, get_campaign
from engine.errors import ArtifactError, InvalidInputError
from engine.training import create_solution
from tests.engine.planted import GROUPS, ITEMS_PER_GROUP, USERS_PER_GROUP, planted_rows

CATALOGUE = GROUPS * ITEMS_PER_GROUP
SEEN = {}
for user, item, *_ in planted_rows():
    SEEN.setdefault(user, set()).add(item)


@pytest.fixture
def campaign(planted_group):
    solution = create_solution(
        planted_group, "als", "user-personalization", hyperparameters={"factors": 8}
    )
    return create_campaign(planted_group, "home", solution.train())


def test_known_user_gets_the_two_unseen_items_of_their_group_first(campaign):
    answer = campaign.get_recommendations("u1-07", num_results=5)
    unseen = {f"i1-{n:02d}" for n in range(ITEMS_PER_GROUP)} - SEEN["u1-07"]
    assert {item.item_id for item in answer.items[:2]} == unseen
    assert len(answer.items) == 5
    assert answer.fallback is None
    assert answer.recommendation_id.startswith("RID-")


def test_unknown_user_gets_popular_items_marked_as_such(campaign):
    answer = campaign.get_recommendations("nobody", num_results=3)
    assert answer.fallback == "popularity"
    assert [item.item_id for item in answer.items] == ["i0-00", "i1-00", "i2-00"]
    assert all(item.reason == ("Popular item",) for item in answer.items)
    assert answer.to_dict()["itemList"][0] == {
        "itemId": "i0-00",
        "score": float(USERS_PER_GROUP),
        "reason": ["Popular item"],
    }


def test_more_results_than_unseen_items_returns_every_unseen_item(campaign):
    answer = campaign.get_recommendations("u0-00", num_results=500)
    assert len(answer.items) == CATALOGUE - len(SEEN["u0-00"])
    assert all(np.isfinite(item.score) for item in answer.items)


@pytest.mark.parametrize("count", [0, 501, -1])
def test_num_results_outside_1_to_500_is_refused(campaign, count):
    with pytest.raises(
        InvalidInputError, match=f"num_results must be between 1 and 500, got {count}"
    ):
        campaign.get_recommendations("u0-00", num_results=count)


def test_reopened_campaign_gives_identical_recommendations(campaign, planted_group):
    reopened = get_campaign(planted_group, "home")
    for user in ("u0-03", "u2-11", "stranger"):
        first = campaign.get_recommendations(user, num_results=10).items
        assert reopened.get_recommendations(user, num_results=10).items == first


def test_a_damaged_artifact_is_refused_when_the_campaign_opens(campaign, planted_group):
    path = campaign.version.path / "model.item_factors.npy"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model\.item_factors\.npy is damaged"):
        get_campaign(planted_group, "home")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, GROUPS - 1), st.integers(0, USERS_PER_GROUP - 1), st.integers(1, 60))
def test_no_seen_item_is_ever_returned(campaign, group, member, count):
    user = f"u{group}-{member:02d}"
    items = [item.item_id for item in campaign.get_recommendations(user, num_results=count).items]
    assert not set(items) & SEEN[user]
    assert len(items) == min(count, CATALOGUE - len(SEEN[user]))
    assert len(set(items)) == len(items)
