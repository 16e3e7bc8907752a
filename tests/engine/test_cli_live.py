import json
import time

import pytest

from engine.cli import main
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions

DEADLINE_SECONDS = 60.0


@pytest.fixture
def home(tmp_path, capsys):
    """A store with the planted interactions, an ALS solution with one version, a campaign."""
    home = str(tmp_path / "home")
    schema = tmp_path / "interactions.json"
    schema.write_text(json.dumps(INTERACTIONS_SCHEMA))
    data = write_interactions(tmp_path / "interactions.csv", planted_rows())
    for step in (
        ["dataset-group", "create", "g"],
        ["dataset", "import", "g", "--type", "interactions", str(data), "--schema", str(schema)],
        ["solution", "create", "g", "als", "--recipe", "user-personalization", "-p", "factors=8"],
        ["version", "create", "g", "als"],
        ["campaign", "create", "g", "home", "--solution", "als"],
    ):
        assert run(capsys, home, *step)[0] == 0
    return home


def run(capsys, home, *argv):
    status = main(["--quiet", "--json", "--home", home, *argv])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def items(answer):
    return [item["itemId"] for item in answer["itemList"]]


def test_events_put_from_the_command_line_change_the_next_answer(capsys, home):
    tracker = run(capsys, home, "event-tracker", "create", "g", "web")[1]
    before = items(run(capsys, home, "recommend", "g", "home", "--user-id", "u1-07")[1])
    event = json.dumps({"eventType": "watch", "sentAt": 1710000000, "itemId": before[0]})
    status, out, _ = run(
        capsys, home, "event", "put", "--tracking-id", tracker["tracking_id"],
        "--session-id", "s1", "--user-id", "u1-07", event,
    )  # fmt: skip
    assert (status, out) == (0, {"accepted": 1})
    after = items(run(capsys, home, "recommend", "g", "home", "--user-id", "u1-07")[1])
    assert before[0] not in after

    bad = json.dumps({"eventType": "watch", "sentAt": 1710000000000, "itemId": "i0-01"})
    status, _, err = run(
        capsys, home, "event", "put", "--tracking-id", tracker["tracking_id"],
        "--session-id", "s1", bad,
    )  # fmt: skip
    assert status == 1
    assert "eventList, row 0, column sent_at: got '1710000000000', expected epoch seconds" in err


def test_versions_and_campaign_updates_from_the_command_line(capsys, home):
    status, created, _ = run(
        capsys, home, "version", "create", "g", "als", "--training-mode", "UPDATE"
    )
    assert (status, created["metrics_from"]) == (0, "v1")  # not evaluated: v1's metrics
    listed = run(capsys, home, "version", "list", "g", "als")[1]["solutionVersions"]
    assert [(v["version_id"], v["training_mode"], v.get("metrics_from")) for v in listed] == [
        ("v1", "FULL", None),
        ("v2", "UPDATE", "v1"),
    ]
    assert run(capsys, home, "version", "describe", "g", "als", "v2")[1]["base_version"] == "v1"

    status, _, err = run(capsys, home, "version", "delete", "g", "als", "v1")
    assert status == 1
    assert "campaign 'home' serves als/v1; update the campaign" in err
    updated = run(capsys, home, "campaign", "update", "g", "home", "--version", "v2")[1]
    assert updated["latest_update"]["version_id"] == "v2"
    assert (
        run(capsys, home, "campaign", "describe", "g", "home")[1]["serving"]["version_id"] == "v2"
    )
    assert run(capsys, home, "version", "delete", "g", "als", "v1")[1] == {"deleted": "v1"}

    status, _, err = run(capsys, home, "version", "stop", "g", "als", "v2")
    assert status == 1
    assert "v2 is ACTIVE; only a version in CREATE PENDING or CREATE IN_PROGRESS" in err


def test_campaigns_are_listed_and_deleted_from_the_command_line(capsys, home):
    listed = run(capsys, home, "campaign", "list", "g")[1]["campaigns"]
    assert [(c["name"], c["serving"]) for c in listed] == [
        ("home", {"solution": "als", "version_id": "v1"})
    ]
    status, _, err = run(capsys, home, "version", "delete", "g", "als", "v1")
    assert (status, "campaign 'home' serves als/v1" in err) == (1, True)

    assert run(capsys, home, "campaign", "delete", "g", "home")[1] == {"deleted": "home"}
    assert run(capsys, home, "campaign", "list", "g")[1] == {"campaigns": []}
    assert run(capsys, home, "version", "delete", "g", "als", "v1")[1] == {"deleted": "v1"}
    status, _, err = run(capsys, home, "campaign", "delete", "g", "home")
    assert status == 1
    assert "campaign 'home' does not exist in dataset group 'g'" in err


def test_a_background_version_is_created_and_trains_in_its_own_process(capsys, home):
    started = run(capsys, home, "version", "create", "g", "als", "--background")[1]
    assert (started["version_id"], started["status"]) == ("v2", "CREATE PENDING")

    deadline = time.monotonic() + DEADLINE_SECONDS
    status = started["status"]
    while status != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = run(capsys, home, "version", "describe", "g", "als", "v2")[1]["status"]
    assert status == "ACTIVE"
