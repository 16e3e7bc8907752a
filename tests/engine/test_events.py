import os
import signal
import subprocess
import sys
import textwrap

import pytest

from engine.campaign import create_campaign, get_campaign
from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError, ValidationError
from engine.events import Event, create_event_tracker, get_event_tracker, put_events, put_items
from engine.store import Store
from engine.store.event_log import EventLog
from tests.engine.planted import NOW, planted_rows, watch

SEEN: dict[str, set[str]] = {}
for user, item, *_ in planted_rows():
    SEEN.setdefault(user, set()).add(item)


@pytest.fixture
def campaign(planted_group, solution):
    return create_campaign(planted_group, "home", solution.train())


@pytest.fixture
def tracker(planted_group):
    return create_event_tracker(planted_group, "web")


def item_ids(answer):
    return [item.item_id for item in answer.items]


def test_a_group_has_one_tracker_found_by_get(planted_group, tracker):
    assert get_event_tracker(planted_group).tracking_id == tracker.tracking_id
    with pytest.raises(AlreadyExistsError, match="has an event tracker already"):
        create_event_tracker(planted_group, "another")


def test_a_group_without_tracker_is_reported(planted_group):
    with pytest.raises(NotFoundError, match="has no event tracker; create one first"):
        get_event_tracker(planted_group)


def test_one_call_changes_the_users_answer_and_excludes_the_item(campaign, tracker, planted_group):
    before = item_ids(campaign.get_recommendations("u1-07", num_results=10))
    taken = before[0]
    tracker.put_events("s1", [watch(taken)], user_id="u1-07")

    after = item_ids(campaign.get_recommendations("u1-07", num_results=10))
    assert after != before
    assert taken not in after
    assert not set(after) & SEEN["u1-07"]
    reopened = item_ids(get_campaign(planted_group, "home").get_recommendations("u1-07", 10))
    assert reopened == after


def test_a_new_user_with_three_events_gets_their_taste_group_first(campaign, tracker):
    popular = item_ids(campaign.get_recommendations("newcomer", num_results=10))
    events = [watch(f"i1-{n:02d}", NOW + n) for n in (3, 5, 8)]
    tracker.put_events("visit-9", events, user_id="newcomer")

    answer = campaign.get_recommendations("newcomer", num_results=10)
    assert answer.fallback is None
    assert item_ids(answer) != popular
    assert all(item.startswith("i1-") for item in item_ids(answer))
    assert not {"i1-03", "i1-05", "i1-08"} & set(item_ids(answer))


def test_an_anonymous_visitor_is_served_by_session_id(campaign, tracker):
    tracker.put_events("anon-1", [Event("watch", float(NOW), "i2-04")])
    answer = campaign.get_recommendations("anon-1", num_results=5)
    assert answer.fallback is None
    assert "i2-04" not in item_ids(answer)


def test_an_event_with_a_bad_field_is_refused_whole(campaign, tracker, planted_group):
    size = EventLog(planted_group.path).size()
    events = [watch("i0-01"), watch("i0-02", at=NOW * 1000)]
    expected = (
        "1 invalid value(s) in eventList; nothing of this call was stored. "
        "Fix these entries (counted from 0) and send again:\n"
        "  eventList, row 1, column sent_at: got '1710000000000', expected "
        "epoch seconds; this looks like milliseconds: divide by 1000"
    )
    with pytest.raises(ValidationError) as raised:
        tracker.put_events("s1", events, user_id="u0-00")
    assert str(raised.value) == expected
    assert EventLog(planted_group.path).size() == size


def test_every_problem_of_a_call_names_its_event_and_field(tracker):
    events = [
        {"sent_at": NOW, "item_id": "i0-01"},
        watch("i0-02", properties='{"userId": "x"}'),
        watch("i0-03", colour="red"),
        watch("x" * 257),
    ]
    with pytest.raises(ValidationError) as raised:
        tracker.put_events("s1", events, user_id="u0-00")
    found = [(problem.row, problem.column) for problem in raised.value.problems]
    assert found == [
        (0, "event_type"),
        (1, "properties.userId"),
        (2, "colour"),
    ]


def test_more_than_ten_events_are_refused(tracker):
    with pytest.raises(InvalidInputError, match="event_list must hold 1-10 entries, got 11"):
        tracker.put_events("s1", [watch("i0-01")] * 11)


def test_the_next_training_uses_the_events(campaign, tracker, solution):
    before = campaign.version.manifest["num_interactions"]
    tracker.put_events("s1", [watch("i0-01"), watch("i1-01")], user_id="fresh")
    version = solution.train()
    assert version.manifest["num_interactions"] == before + 2
    assert "fresh" in get_campaign_users(version)


def get_campaign_users(version):
    _, arrays = version.load_model()
    return {str(user) for user in arrays["user_ids"]}


def test_put_items_adds_to_the_catalogue(planted_group):
    schema = {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRE", "type": ["null", "string"], "categorical": True},
        ],
        "version": "1.0",
    }
    planted_group.create_dataset("ITEMS", schema)
    put_items(planted_group, [{"itemId": "brand-new", "properties": '{"genre": ["a", "b"]}'}])
    table = planted_group.dataset("ITEMS").read_table()
    assert table.to_pylist() == [{"ITEM_ID": "brand-new", "GENRE": "a|b"}]
    assert "brand-new" in set(planted_group.interaction_cache().item_ids)


def test_a_torn_last_line_is_ignored_then_cut_by_the_next_append(planted_group, tracker):
    tracker.put_events("s1", [watch("i0-01")], user_id="u0-00")
    log = EventLog(planted_group.path)
    with log.path.open("ab") as stream:
        stream.write(b'{"dataset": "INTERACTIONS", "ro')
    rows = planted_group.dataset("INTERACTIONS").read_table().num_rows

    tracker.put_events("s1", [watch("i0-02")], user_id="u0-00")
    assert planted_group.dataset("INTERACTIONS").read_table().num_rows == rows + 1
    assert log.path.read_bytes().count(b"\n") == 2
    assert log.committed_size() == log.size()


def test_the_interaction_cache_follows_the_log(planted_group, tracker):
    first = planted_group.interaction_cache()
    tracker.put_events("s1", [watch("i0-01")], user_id="u0-00")
    second = planted_group.interaction_cache()
    assert second.fingerprint != first.fingerprint
    assert len(second) == len(first) + 1
    assert second.log_end == EventLog(planted_group.path).size()


CHILD = """
import sys
from engine.store import Store
from engine.events import get_event_tracker

tracker = get_event_tracker(Store(sys.argv[1]).dataset_group("planted"))
for call in range(100000):
    event = {"event_type": "watch", "sent_at": 1710000000, "item_id": f"i0-{call % 16:02d}",
             "event_value": float(call)}
    tracker.put_events("child", [event], user_id=f"child-{call}")
    print(call, flush=True)
"""


def test_every_call_returned_before_a_kill_is_in_the_store(planted_group, tracker, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    child = subprocess.Popen(
        [sys.executable, str(script), str(planted_group.root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert child.stdout is not None
    returned = []
    for line in child.stdout:
        returned.append(int(line))
        if len(returned) == 200:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    returned.extend(int(line) for line in child.stdout.read().split())
    child.stdout.close()

    group = Store(planted_group.root).dataset_group("planted")
    users = set(group.dataset("INTERACTIONS").read_table(["USER_ID"]).column(0).to_pylist())
    assert {f"child-{call}" for call in returned} <= users
    assert len(group.interaction_cache()) >= len(planted_rows()) + len(returned)


def seen_items(version, user_id):
    _, arrays = version.load_model()
    user = [str(user) for user in arrays["user_ids"]].index(user_id)
    span = slice(int(arrays["seen_indptr"][user]), int(arrays["seen_indptr"][user + 1]))
    return {str(arrays["item_ids"][item]) for item in arrays["seen_indices"][span]}


def test_a_session_joined_to_a_user_is_theirs_from_then_on(campaign, tracker):
    tracker.put_events("visit-3", [watch("i2-03"), watch("i2-05", NOW + 1)])
    assert campaign.get_recommendations("member", 10).fallback == "popularity"

    tracker.put_events("visit-3", [watch("i2-08", NOW + 2)], user_id="member")
    answer = item_ids(campaign.get_recommendations("member", 10))
    assert all(item.startswith("i2-") for item in answer)
    assert not {"i2-03", "i2-05", "i2-08"} & set(answer)
    assert item_ids(campaign.get_recommendations("visit-3", 10)) == answer

    tracker.put_events("visit-3", [watch(answer[0], NOW + 3)])
    assert answer[0] not in item_ids(campaign.get_recommendations("member", 10))


def test_the_next_training_merges_a_joined_session_into_the_user(
    campaign, tracker, solution, planted_group
):
    tracker.put_events("visit-4", [watch("i0-03"), watch("i0-05", NOW + 1)])
    tracker.put_events("visit-4", [watch("i0-08", NOW + 2)], user_id="u1-07")
    version = solution.train()

    assert "visit-4" not in get_campaign_users(version)
    assert seen_items(version, "u1-07") == SEEN["u1-07"] | {"i0-03", "i0-05", "i0-08"}
    users = planted_group.dataset("INTERACTIONS").read_table(["USER_ID"]).column(0).to_pylist()
    assert "visit-4" not in users
    served = create_campaign(planted_group, "next", version)
    assert item_ids(served.get_recommendations("visit-4", 5)) == item_ids(
        served.get_recommendations("u1-07", 5)
    )


def test_a_session_trained_as_its_own_user_joins_with_its_history(tracker, solution, planted_group):
    tracker.put_events("visit-5", [watch(f"i1-{n:02d}", NOW + n) for n in (2, 4, 6, 9)])
    version = solution.train()
    assert seen_items(version, "visit-5") == {"i1-02", "i1-04", "i1-06", "i1-09"}
    served = create_campaign(planted_group, "trained", version)

    tracker.put_events("visit-5", [watch("i1-11", NOW + 10)], user_id="member")
    answer = served.get_recommendations("member", 8)
    assert answer.fallback is None
    assert all(item.startswith("i1-") for item in item_ids(answer))
    assert not {"i1-02", "i1-04", "i1-06", "i1-09", "i1-11"} & set(item_ids(answer))


def test_put_events_finds_the_tracker_by_its_tracking_id(campaign, tracker, planted_group):
    store = Store(planted_group.root)
    put_events(
        store,
        tracker.tracking_id,
        "s1",
        [{"eventType": "watch", "sentAt": NOW, "itemId": "i0-05"}],
        user_id="u0-00",
    )
    assert EventLog(planted_group.path).rows("INTERACTIONS") == [
        {
            "USER_ID": "u0-00",
            "ITEM_ID": "i0-05",
            "EVENT_TYPE": "watch",
            "EVENT_VALUE": None,
            "TIMESTAMP": NOW,
        }
    ]
    with pytest.raises(NotFoundError, match="has tracking id 'no-such-id'"):
        put_events(store, "no-such-id", "s1", [watch("i0-05")])


def test_training_uses_only_the_first_event_of_an_event_id(campaign, tracker, solution):
    before = campaign.version.manifest["num_interactions"]
    tracker.put_events("s1", [watch("i0-01", event_id="e-1")], user_id="fresh")
    tracker.put_events("s1", [watch("i0-02", event_id="e-1"), watch("i0-03")], user_id="fresh")
    version = solution.train()
    assert version.manifest["num_interactions"] == before + 2
    assert seen_items(version, "fresh") == {"i0-01", "i0-03"}
