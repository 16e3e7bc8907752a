import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import recipes.als
from engine.campaign import create_campaign
from engine.errors import InUseError, InvalidInputError, InvalidStateError, NotFoundError
from engine.events import create_event_tracker
from engine.lifecycle import ABANDONED_REASON
from engine.store import Store
from engine.training import create_solution, get_solution
from engine.versions import (
    delete_solution_version,
    describe_solution_version,
    list_solution_versions,
    stop_solution_version_creation,
)
from tests.engine.gated import wait_for
from tests.engine.planted import NOW, watch


@pytest.fixture
def gate(tmp_path):
    """The gate of the gated recipe; opened at the end so no training is left waiting."""
    path = tmp_path / "gate"
    yield path
    path.touch()


@pytest.fixture
def gated(planted_group, gate):
    return create_solution(
        planted_group, "gated", "gated-popularity", hyperparameters={"gate": str(gate)}
    )


@pytest.fixture
def als(solution):
    return solution


def files_of(version):
    return sorted(path.name for path in version.path.iterdir())


def test_a_background_version_is_in_progress_then_active(gated, gate):
    job = gated.train_in_background()
    wait_for(gate.with_suffix(".entered"))
    assert job.status == "CREATE IN_PROGRESS"
    assert job.version().metrics == {}

    gate.touch()
    version = job.wait()
    assert version.status == "ACTIVE"
    assert version.version_id == "v1"
    assert "model.item_popularity.npy" in files_of(version)
    assert ".staging" not in files_of(version)


def test_a_stopped_version_is_stopping_then_stopped_with_no_arrays(gated, gate):
    job = gated.train_in_background()
    wait_for(gate.with_suffix(".entered"))
    stop_solution_version_creation(gated, job.version_id)
    assert job.status == "CREATE STOPPING"

    gate.touch()
    version = job.wait()
    assert version.status == "CREATE STOPPED"
    assert files_of(version) == [".stop", ".training.lock", "manifest.json"]
    with pytest.raises(NotFoundError, match="has no ACTIVE version"):
        gated.version()
    with pytest.raises(InvalidStateError, match="v1 is CREATE STOPPED; only a version in"):
        stop_solution_version_creation(gated, "v1")


def test_a_second_training_of_a_solution_is_refused_while_one_runs(gated, gate):
    job = gated.train_in_background()
    wait_for(gate.with_suffix(".entered"))
    with pytest.raises(InUseError, match="solution 'gated' is being trained or changed"):
        gated.train()
    with pytest.raises(InUseError, match="v1 is CREATE IN_PROGRESS; stop it and wait"):
        delete_solution_version(gated, "v1")

    gate.touch()
    job.wait()
    assert gated.train().version_id == "v2"


def test_stopping_an_active_version_is_refused(als):
    als.train()
    with pytest.raises(InvalidStateError, match="v1 is ACTIVE; only a version in"):
        stop_solution_version_creation(als, "v1")


def test_versions_are_listed_described_and_deleted_and_ids_never_reused(als):
    als.train()
    als.train()
    assert [(s["version_id"], s["status"]) for s in list_solution_versions(als)] == [
        ("v1", "ACTIVE"),
        ("v2", "ACTIVE"),
    ]
    described = describe_solution_version(als, "v2")
    assert described["training_mode"] == "FULL"
    assert described["num_interactions"] == als.version("v1").manifest["num_interactions"]
    assert "files" not in described

    delete_solution_version(als, "v2")
    with pytest.raises(NotFoundError, match="solution 'als' has no version 'v2'"):
        als.version("v2")
    assert als.train().version_id == "v3"
    assert [s["version_id"] for s in list_solution_versions(als)] == ["v1", "v3"]


def test_a_version_a_campaign_serves_cannot_be_deleted(als, planted_group):
    create_campaign(planted_group, "home", als.train())
    with pytest.raises(InUseError, match="campaign 'home' serves als/v1; update the campaign"):
        delete_solution_version(als, "v1")


def test_an_unknown_training_mode_is_refused(als):
    with pytest.raises(InvalidInputError, match="training_mode must be one of FULL, UPDATE"):
        als.train(training_mode="AUTOTRAIN")


def test_update_needs_an_active_full_version(als):
    with pytest.raises(InvalidStateError, match="has no ACTIVE FULL version; train one"):
        als.train(training_mode="UPDATE")
    assert als.versions() == []


def test_update_is_refused_for_a_recipe_without_it(planted_group):
    solution = create_solution(planted_group, "popular", "popularity-count")
    solution.train()
    with pytest.raises(InvalidInputError, match="'popularity-count' cannot train in UPDATE"):
        solution.train(training_mode="UPDATE")


def test_update_brings_in_new_users_and_items_and_keeps_the_rest(als, planted_group):
    full = als.train()
    tracker = create_event_tracker(planted_group, "web")
    tracker.put_events("s0", [watch(f"i2-{n:02d}", NOW + n) for n in (1, 4, 7)], user_id="newbie")
    for member in range(12):
        tracker.put_events(f"s{member}", [watch("i2-new")], user_id=f"u2-{member:02d}")
    update = als.train(training_mode="UPDATE")

    assert update.training_mode == "UPDATE"
    assert update.manifest["base_version"] == "v1"
    assert update.metrics == full.metrics
    assert update.manifest["metrics_from"] == "v1"
    assert (update.manifest["num_new_users"], update.manifest["num_new_items"]) == (1, 1)
    assert update.manifest["num_refreshed_users"] == 13

    campaign = create_campaign(planted_group, "home", update)
    newbie = [item.item_id for item in campaign.get_recommendations("newbie", 8).items]
    assert all(item.startswith("i2-") for item in newbie)
    unseen = campaign.get_recommendations("u2-20", 3).items
    assert "i2-new" in {item.item_id for item in unseen}


def test_update_leaves_unchanged_users_and_known_items_as_they_were(als, planted_group):
    full = als.train()
    tracker = create_event_tracker(planted_group, "web")
    tracker.put_events("s0", [watch("i0-01"), watch("i1-02", NOW + 1)], user_id="newbie")
    update = als.train(training_mode="UPDATE")

    old_model, old_arrays = full.load_model()
    new_model, new_arrays = update.load_model()
    assert np.array_equal(new_model.item_factors, old_model.item_factors)
    users = [str(user) for user in new_arrays["user_ids"]]
    kept = [users.index(str(user)) for user in old_arrays["user_ids"]]
    assert np.array_equal(new_model.user_factors[kept], old_model.user_factors)
    assert update.manifest["num_refreshed_users"] == 1


CHILD = """
import sys
import tests.engine.gated
from engine.store import Store
from engine.training import get_solution

solution = get_solution(Store(sys.argv[1]).dataset_group("planted"), "gated")
solution.train()
"""


def test_a_training_process_killed_midway_leaves_a_failed_version_settled_next_time(
    gated, gate, planted_group, tmp_path
):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, str(script), str(planted_group.root)], env=environment
    )
    try:
        wait_for(gate.with_suffix(".entered"))
        with pytest.raises(InUseError, match="solution 'gated' is being trained or changed"):
            gated.train()
        assert gated.version("v1").status == "CREATE IN_PROGRESS"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    reopened = get_solution(Store(planted_group.root).dataset_group("planted"), "gated")
    died = reopened.version("v1")
    assert (died.status, died.failure_reason) == ("CREATE FAILED", ABANDONED_REASON)
    gate.touch()
    assert reopened.train().version_id == "v2"
    assert files_of(reopened.version("v1")) == [".training.lock", "manifest.json"]
    assert '"status": "CREATE FAILED"' in (died.path / "manifest.json").read_text()


def test_a_group_cannot_be_deleted_while_one_of_its_solutions_trains(gated, gate, planted_group):
    job = gated.train_in_background()
    wait_for(gate.with_suffix(".entered"))
    store = Store(planted_group.root)
    with pytest.raises(InUseError, match=r"another writer holds the lock on .*solutions/gated"):
        store.delete_dataset_group("planted")

    gate.touch()
    assert job.wait().status == "ACTIVE"
    store.delete_dataset_group("planted")
    assert store.list_dataset_groups() == []


def test_a_stop_ends_an_als_fit_between_two_iterations(planted_group, monkeypatch):
    solution = create_solution(
        planted_group, "long", "user-personalization", hyperparameters={"iterations": "300"}
    )
    in_fit, asked, iterations = threading.Event(), threading.Event(), []
    check = recipes.als._between_iterations

    def first_iteration_waits_for_the_stop(iteration, elapsed, loss):
        iterations.append(iteration)
        in_fit.set()
        asked.wait(10)
        check(iteration, elapsed, loss)

    monkeypatch.setattr(recipes.als, "_between_iterations", first_iteration_waits_for_the_stop)
    job = solution.train_in_background()
    assert in_fit.wait(10)
    stop_solution_version_creation(solution, job.version_id)
    asked.set()

    version = job.wait()
    assert version.status == "CREATE STOPPED"
    assert iterations == [0]  # the first of 300 iterations of the evaluation fit was the last
    assert files_of(version) == [".stop", ".training.lock", "manifest.json"]
