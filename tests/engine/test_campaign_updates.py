import threading
import time

import pytest

from engine.campaign import (
    Campaign,
    Deployment,
    create_campaign,
    get_campaign,
    update_campaign,
)
from engine.errors import ArtifactError, InvalidStateError
from engine.events import create_event_tracker
from engine.training import create_solution
from tests.engine.gated import wait_for
from tests.engine.planted import NOW, watch

USERS = ["u0-03", "u1-07", "u2-11", "u0-29", "u1-00", "u2-18", "returning"]


@pytest.fixture
def versions(planted_group, solution):
    """Two ACTIVE versions that answer differently: v2 was trained after new events."""
    first = solution.train()
    tracker = create_event_tracker(planted_group, "web")
    for n, user in enumerate(USERS):
        events = [watch(f"i{(n + 1) % 3}-{k:02d}", NOW + k) for k in (1, 2, 3, 5, 8)]
        tracker.put_events(f"s{n}", events, user_id=user)
    return first, solution.train()


def answer_of(recommendations):
    return [(item.item_id, item.score) for item in recommendations.items]


def test_a_campaign_switches_to_another_version_and_records_it(planted_group, versions):
    first, second = versions
    campaign = create_campaign(planted_group, "home", first)
    assert campaign.get_recommendations("u1-07", 5).solution_version == "v1"

    campaign.update(second)
    assert campaign.version.version_id == "v2"
    assert campaign.get_recommendations("u1-07", 5).solution_version == "v2"
    described = campaign.describe()
    assert described["version_id"] == "v2"
    assert described["latest_update"]["version_id"] == "v2"
    assert described["latest_update"]["status"] == "ACTIVE"
    assert get_campaign(planted_group, "home").version.version_id == "v2"


def test_a_campaign_following_the_latest_version_takes_each_new_one(planted_group, solution):
    campaign = create_campaign(planted_group, "home", solution.train(), sync_with_latest=True)
    assert campaign.refresh() is False
    solution.train()
    assert campaign.refresh() is True
    assert campaign.version.version_id == "v2"
    assert campaign.describe()["sync_with_latest"] is True


def test_a_serving_campaign_follows_an_update_made_elsewhere(planted_group, versions):
    first, second = versions
    create_campaign(planted_group, "home", first)
    serving = get_campaign(planted_group, "home")
    serving.check_interval = 0.0

    update_campaign(planted_group, "home", second)
    while serving.version.version_id != "v2":
        serving.get_recommendations("u1-07", 3)
    assert serving.get_recommendations("u1-07", 3).solution_version == "v2"


def test_a_damaged_version_is_refused_and_the_campaign_keeps_serving(planted_group, versions):
    first, second = versions
    campaign = create_campaign(planted_group, "home", first)
    damaged = second.path / "model.item_factors.npy"
    damaged.write_bytes(damaged.read_bytes()[:-4])

    with pytest.raises(ArtifactError, match=r"model\.item_factors\.npy is damaged"):
        campaign.update(second)
    assert campaign.version.version_id == "v1"
    assert get_campaign(planted_group, "home").version.version_id == "v1"


def test_a_version_that_is_not_active_is_refused(planted_group, solution, tmp_path):
    campaign = create_campaign(planted_group, "home", solution.train())
    gated = create_solution(
        planted_group, "gated", "gated-popularity", hyperparameters={"gate": str(tmp_path / "g")}
    )
    job = gated.train_in_background()
    wait_for(tmp_path / "g.entered")
    job.stop()
    (tmp_path / "g").touch()
    stopped = job.wait()
    with pytest.raises(InvalidStateError, match="v1 is CREATE STOPPED, not ACTIVE"):
        campaign.update(stopped)


def test_a_campaign_without_a_store_cannot_be_updated(solution):
    version = solution.train()
    with pytest.raises(InvalidStateError, match="was not opened from a store"):
        Campaign("loose", version).update(version)


def test_swapping_versions_under_requests_fails_none_and_mixes_none(planted_group, versions):
    first, second = versions
    expected = {
        version.version_id: {
            user: answer_of(Deployment("expected", version).get_recommendations(user, 10))
            for user in USERS
        }
        for version in versions
    }
    assert all(expected["v1"][user] != expected["v2"][user] for user in USERS)

    campaign = create_campaign(planted_group, "home", first)
    answers, failures, stop = [], [], threading.Event()

    def send_requests():
        while not stop.is_set():
            for user in USERS:
                try:
                    answer = campaign.get_recommendations(user, 10)
                except Exception as error:  # noqa: BLE001 - every failure is the finding
                    failures.append(error)
                    continue
                answers.append((user, answer.solution_version, answer_of(answer)))

    sender = threading.Thread(target=send_requests)
    sender.start()
    try:
        for swap in range(12):
            while len(answers) < 20 * (swap + 1):
                time.sleep(0.001)
            campaign.update(second if swap % 2 == 0 else first)
    finally:
        stop.set()
        sender.join()

    assert failures == []
    assert {version for _, version, _ in answers} == {"v1", "v2"}
    assert all(items == expected[version][user] for user, version, items in answers)


def test_naming_a_version_stops_following_the_latest(planted_group, versions):
    first, second = versions
    campaign = create_campaign(planted_group, "home", second, sync_with_latest=True)
    campaign.update(first)
    assert campaign.version.version_id == "v1"
    assert campaign.describe()["sync_with_latest"] is False
    campaign.update(sync_with_latest=True)
    assert campaign.version.version_id == "v2"
