import json

import pytest

from engine.cli import main
from recipes import available_recipes
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions
from tests.shared_datasets import SAMPLES


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/datasets is not present")
def test_schema_validate_accepts_a_sample_schema(capsys):
    schema = SAMPLES / "schemas" / "01_pet_interactions.json"
    status, out, _ = run(
        capsys, "--json", "schema", "validate", "--type", "interactions", str(schema)
    )
    assert status == 0
    assert json.loads(out)["datasetType"] == "INTERACTIONS"


def test_schema_validate_exits_1_with_every_reason(capsys, tmp_path):
    broken = dict(INTERACTIONS_SCHEMA, fields=[{"name": "USER_ID", "type": "int"}])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    status, _, err = run(capsys, "schema", "validate", "--type", "interactions", str(path))
    assert status == 1
    assert "broken.json is not a valid schema:" in err
    assert "USER_ID" in err
    assert "ITEM_ID" in err


def test_the_main_job_runs_from_the_command_line(capsys, tmp_path):
    home = str(tmp_path / "home")
    schema = tmp_path / "interactions.json"
    schema.write_text(json.dumps(INTERACTIONS_SCHEMA))
    data = write_interactions(tmp_path / "interactions.csv", planted_rows())
    steps = [
        ["dataset-group", "create", "g"],
        ["dataset", "import", "g", "--type", "interactions", str(data), "--schema", str(schema)],
        ["solution", "create", "g", "als", "--recipe", "user-personalization", "-p", "factors=8"],
        ["solution", "train", "g", "als"],
        ["campaign", "create", "g", "home", "--solution", "als"],
    ]
    for step in steps:
        status, _, err = run(capsys, "--quiet", "--home", home, *step)
        assert status == 0, err

    status, out, _ = run(capsys, "--json", "--home", home, "solution", "metrics", "g", "als")
    assert json.loads(out)["metrics"]["precision_at_5"] == pytest.approx(0.2)
    status, out, _ = run(
        capsys, "--json", "--home", home, "recommend", "g", "home", "--user-id", "u0-01", "-n", "3"
    )
    assert status == 0
    items = json.loads(out)["itemList"]
    assert len(items) == 3

    status, out, _ = run(
        capsys, "--home", home, "recommend", "g", "home", "--user-id", "u0-01", "-n", "3"
    )
    lines = out.splitlines()
    assert lines[0].startswith("itemList:")
    assert [line.split()[:2] for line in lines[1:4]] == [
        [f"{rank}.", item["itemId"]] for rank, item in enumerate(items, start=1)
    ]
    assert lines[4].startswith("recommendationId: RID-")


def test_engine_errors_exit_1_with_the_message(capsys, tmp_path):
    status, _, err = run(capsys, "--home", str(tmp_path), "solution", "list", "missing")
    assert status == 1
    assert err.strip() == "recengine: dataset group 'missing' does not exist"


def test_json_errors_are_json_on_stdout(capsys, tmp_path):
    missing = tmp_path / "nowhere.json"
    argv = ["--json", "schema", "validate", "--type", "users", str(missing)]
    status, out, err = run(capsys, *argv)
    assert status == 1
    assert json.loads(out) == {
        "error": "NotFoundError",
        "message": f"schema file {missing} does not exist",
    }
    assert err.strip() == f"recengine: schema file {missing} does not exist"


def test_an_invalid_schema_is_reported_as_json(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(dict(INTERACTIONS_SCHEMA, fields=[])))
    status, out, _ = run(
        capsys, "--json", "schema", "validate", "--type", "interactions", str(path)
    )
    assert status == 1
    report = json.loads(out)
    assert (report["valid"], report["source"]) == (False, "broken.json")
    assert report["reasons"] == [
        f"field {name}: required field {name} ({kind}) is missing from the INTERACTIONS "
        "schema; add it"
        for name, kind in (("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"))
    ]


def test_every_command_has_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["solution", "create", "--help"])
    assert exit_info.value.code == 0
    assert "--event-value-threshold" in capsys.readouterr().out


def test_similar_items_and_rank_run_from_the_command_line(capsys, tmp_path):
    home = str(tmp_path / "home")
    schema = tmp_path / "interactions.json"
    schema.write_text(json.dumps(INTERACTIONS_SCHEMA))
    data = write_interactions(tmp_path / "interactions.csv", planted_rows())
    steps = [
        ["dataset-group", "create", "g"],
        ["dataset", "import", "g", "--type", "interactions", str(data), "--schema", str(schema)],
        ["solution", "create", "g", "sims", "--recipe", "similar-items"],
        ["solution", "train", "g", "sims"],
        ["campaign", "create", "g", "related", "--solution", "sims"],
    ]
    for step in steps:
        status, _, err = run(capsys, "--quiet", "--home", home, *step)
        assert status == 0, err
    status, _, err = run(capsys, "--quiet", "--home", home, *steps[1])  # --schema once more
    assert status == 1
    assert err.endswith(
        "a group holds one dataset of each type; to import into it, leave out --schema\n"
    )

    query = ["--json", "--home", home, "similar-items", "g", "related", "--item-id", "i1-03"]
    status, out, _ = run(capsys, *query, "-n", "4")
    listed = [item["itemId"] for item in json.loads(out)["itemList"]]
    assert status == 0
    assert len(listed) == 4 and all(item.startswith("i1-") for item in listed)

    rank = ["--json", "--home", home, "rank", "g", "related", "--user-id", "u2-01"]
    status, out, _ = run(capsys, *rank, "--items", "i0-04,i2-02,none")
    ranking = json.loads(out)["personalizedRanking"]
    assert status == 0
    assert [item["itemId"] for item in ranking] == ["i2-02", "i0-04", "none"]
    assert "score" not in ranking[2]

    status, _, err = run(capsys, *rank, "--items", "i0-04,i0-04")
    assert status == 1
    assert err.strip() == "recengine: input_list holds item 'i0-04' more than once"


def test_solution_create_takes_columns_and_a_window(capsys, tmp_path):
    from datasets import vod_paths

    home = str(tmp_path / "home")
    paths = vod_paths()
    assert run(capsys, "--quiet", "--home", home, "dataset-group", "create", "vod")[0] == 0
    for kind in ("interactions", "items"):
        step = ["dataset", "import", "vod", "--type", kind, str(paths[kind])]
        status, _, err = run(
            capsys, "--quiet", "--home", home, *step, "--schema", str(paths[f"{kind}_schema"])
        )
        assert status == 0, err
    create = ["solution", "create", "vod", "recent", "--recipe", "content-based"]
    options = ["--include-columns", "ITEMS=CATEGORY,PLAYERS", "--window-days", "30"]
    status, _, err = run(capsys, "--quiet", "--home", home, *create, *options)
    assert status == 0, err

    status, out, err = run(capsys, "--json", "--home", home, "solution", "train", "vod", "recent")
    summary = json.loads(out)
    assert summary["training_columns"] == {"USERS": [], "ITEMS": ["CATEGORY", "PLAYERS"]}
    # The newest bundled event is at 1777852794 (2026-05-03 23:59:54 UTC).
    assert summary["training_window"] == {"start": 1_777_852_795 - 30 * 86400, "end": 1_777_852_795}


def test_a_malformed_column_choice_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit, match="--exclude-columns takes TYPE=COL,COL, got 'NOISE_TAG'"):
        main(
            [
                "--home",
                str(tmp_path),
                "solution",
                "create",
                "g",
                "s",
                "--recipe",
                "hybrid",
                "--exclude-columns",
                "NOISE_TAG",
            ]
        )


def test_recipes_are_listed_and_described_with_their_hyperparameters(capsys):
    status, out, _ = run(capsys, "--json", "recipe", "list")
    assert status == 0
    assert sorted(json.loads(out)["recipes"]) == available_recipes()
    status, out, _ = run(capsys, "--json", "recipe", "describe", "user-personalization")
    factors = json.loads(out)["hyperparameters"]["factors"]
    assert factors == {
        "type": "int",
        "default": 64,
        "range": [1, 1024],
        "description": "Latent factors per user and per item.",
    }


def test_a_dataset_group_is_deleted_from_the_command_line(capsys, tmp_path):
    home = str(tmp_path / "home")
    assert run(capsys, "--quiet", "--home", home, "dataset-group", "create", "gone")[0] == 0
    status, out, _ = run(capsys, "--json", "--home", home, "dataset-group", "delete", "gone")
    assert (status, json.loads(out)) == (0, {"deleted": "gone"})
    status, out, _ = run(capsys, "--json", "--home", home, "dataset-group", "list")
    assert json.loads(out) == {"datasetGroups": []}
