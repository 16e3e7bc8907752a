"""Several processes on one store: serving while another writes, and writers that collide."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.campaign import Deployment, create_campaign
from engine.errors import InUseError
from engine.events import create_event_tracker
from engine.store import Store
from engine.store.event_log import EventLog
from engine.training import create_solution
from tests.engine.gated import wait_for
from tests.engine.planted import write_interactions

ROOT = Path(__file__).resolve().parents[2]
USERS = ["u0-03", "u1-07", "u2-11", "newcomer"]
DEADLINE_SECONDS = 60.0

SERVER = """
import json, sys
from pathlib import Path
from engine.campaign import get_campaign
from engine.store import Store

campaign = get_campaign(Store(sys.argv[1]).dataset_group("planted"), "home")
campaign.check_interval = 0.01
users, stop = sys.argv[2].split(","), Path(sys.argv[3])
while not stop.exists():
    for user in users:
        answer = campaign.get_recommendations(user, 5)
        items = [item.item_id for item in answer.items]
        print(json.dumps([answer.solution_version, user, items]), flush=True)
"""

APPENDER = """
import sys
from engine.events import get_event_tracker
from engine.store import Store

tracker = get_event_tracker(Store(sys.argv[1]).dataset_group("planted"))
for call in range(int(sys.argv[3])):
    event = {"event_type": "watch", "sent_at": 1710000000 + call, "item_id": "i0-01"}
    tracker.put_events(sys.argv[2], [event], user_id=f"{sys.argv[2]}-{call}")
"""

LOCK_HOLDER = """
import sys, time
from pathlib import Path
from engine.store.files import writer_lock

with writer_lock(Path(sys.argv[1])):
    Path(sys.argv[2]).touch()
    while not Path(sys.argv[3]).exists():
        time.sleep(0.005)
"""


def start(tmp_path, name, code, *arguments, **options):
    script = tmp_path / f"{name}.py"
    script.write_text(textwrap.dedent(code))
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(script), *map(str, arguments)]
    return subprocess.Popen(command, env=environment, text=True, **options)


def test_one_process_serves_while_another_puts_events_imports_and_trains(planted_group, tmp_path):
    solution = create_solution(
        planted_group, "als", "user-personalization", hyperparameters={"factors": 8}
    )
    create_campaign(planted_group, "home", solution.train(), sync_with_latest=True)
    stop = tmp_path / "stop"
    server = start(
        tmp_path,
        "server",
        SERVER,
        planted_group.root,
        ",".join(USERS),
        stop,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    answers = [json.loads(server.stdout.readline()) for _ in range(20)]

    # Meanwhile, in this process: live events, an incremental import and a new version.
    tracker = create_event_tracker(planted_group, "web")
    tracker.put_events(
        "s1", [{"event_type": "watch", "sent_at": 1, "item_id": "i2-03"}], "newcomer"
    )
    rows = [(f"late-{n}", f"i1-{n % 16:02d}", "watch", "0.5", 1_700_000_000 + n) for n in range(40)]
    planted_group.import_csv(
        "INTERACTIONS", write_interactions(tmp_path / "late.csv", rows), "INCREMENTAL"
    )
    latest = solution.train()

    deadline = time.monotonic() + DEADLINE_SECONDS
    while answers[-1][0] != latest.version_id and time.monotonic() < deadline:
        answers.append(json.loads(server.stdout.readline()))
    stop.touch()
    answers += [json.loads(line) for line in server.stdout]
    server.stdout.close()
    assert server.wait() == 0

    assert {version for version, _, _ in answers} == {"v1", "v2"}
    expected = Deployment("expected", latest)
    for version, user, items in answers:
        if version == "v2":
            assert items == [item.item_id for item in expected.get_recommendations(user, 5).items]

    reopened = Store(planted_group.root).dataset_group("planted")
    assert (
        reopened.dataset("INTERACTIONS").read_table().num_rows
        == latest.manifest["num_interactions"]
    )
    assert [version.status for version in solution.versions()] == ["ACTIVE", "ACTIVE"]
    assert not list(solution.path.glob("v*/.staging"))


def test_appends_from_two_processes_are_serialised_never_interleaved(planted_group, tmp_path):
    create_event_tracker(planted_group, "web")
    calls = 60
    appenders = [
        start(tmp_path, f"appender-{name}", APPENDER, planted_group.root, name, calls)
        for name in ("left", "right")
    ]
    assert [appender.wait() for appender in appenders] == [0, 0]

    lines = EventLog(planted_group.path).path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    users = {row["USER_ID"] for record in records for row in record["rows"]}
    assert len(records) == 2 * calls
    assert users == {f"{name}-{call}" for name in ("left", "right") for call in range(calls)}


def test_a_second_writer_process_is_refused_with_a_clear_error(planted_group, tmp_path):
    held, release = tmp_path / "held", tmp_path / "release"
    holder = start(tmp_path, "holder", LOCK_HOLDER, planted_group.root, held, release)
    try:
        wait_for(held)
        csv = write_interactions(tmp_path / "more.csv", [("u9", "i0-01", "watch", "1.0", 1)])
        with pytest.raises(InUseError, match="another writer holds the lock on .*store; wait"):
            planted_group.import_csv("INTERACTIONS", csv, mode="INCREMENTAL")
        with pytest.raises(InUseError, match="another writer holds the lock"):
            Store(planted_group.root).create_dataset_group("other")
    finally:
        release.touch()
        holder.wait()
    assert planted_group.import_csv("INTERACTIONS", csv, mode="INCREMENTAL").rows_imported == 1
