"""The filter commands and filtered, promoted recommendations from the command line."""

import json

import pytest

from engine.cli import main
from engine.store import Store
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions
from tests.engine.planted_catalogue import add_catalogue


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def home(capsys, tmp_path):
    home = str(tmp_path / "home")
    schema = tmp_path / "interactions.json"
    schema.write_text(json.dumps(INTERACTIONS_SCHEMA))
    data = write_interactions(tmp_path / "interactions.csv", planted_rows())
    steps = [
        ["dataset-group", "create", "g"],
        ["dataset", "import", "g", "--type", "interactions", str(data), "--schema", str(schema)],
        ["solution", "create", "g", "als", "--recipe", "user-personalization", "-p", "factors=8"],
    ]
    for step in steps:
        assert run(capsys, "--quiet", "--home", home, *step)[0] == 0
    add_catalogue(Store(home).dataset_group("g"), tmp_path)
    for step in (
        ["solution", "train", "g", "als"],
        ["campaign", "create", "g", "home", "--solution", "als"],
    ):
        assert run(capsys, "--quiet", "--home", home, *step)[0] == 0
    return home


def recommend(capsys, home, *options: str) -> tuple[int, list[dict], str]:
    status, out, err = run(
        capsys, "--json", "--home", home, "recommend", "g", "home", "--user-id", "u0-01", *options
    )
    return status, json.loads(out)["itemList"] if status == 0 else [], err


def test_filters_are_created_listed_used_and_deleted(capsys, home):
    only = "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)"
    status, out, err = run(
        capsys, "--json", "--home", home, "filter", "create", "g", "only", "--expression", only
    )
    assert status == 0, err
    assert json.loads(out)["placeholders"] == ["GENRES"]

    status, out, _ = run(capsys, "--json", "--home", home, "filter", "list", "g")
    assert [found["name"] for found in json.loads(out)["filters"]] == ["only"]

    values = json.dumps({"GENRES": '"Horror"'})
    status, items, _ = recommend(
        capsys, home, "-n", "5", "--filter", "only", "--filter-values", values
    )
    assert status == 0
    assert [item["itemId"][:2] for item in items] == ["i2"] * 5

    status, out, _ = run(capsys, "--json", "--home", home, "filter", "delete", "g", "only")
    assert json.loads(out) == {"deleted": "only"}
    status, _, err = run(capsys, "--home", home, "filter", "describe", "g", "only")
    assert status == 1
    assert err.strip() == "recengine: filter 'only' does not exist in dataset group 'g'"


def test_a_malformed_filter_exits_1_with_the_position(capsys, home):
    status, _, err = run(
        capsys, "--home", home, "filter", "create", "g", "bad", "--expression",
        "EXCLUDE ItemID WHERE Items.GENRES IN",
    )  # fmt: skip
    assert status == 1
    assert err.strip() == (
        "recengine: filter expression: at position 37: expected a value after Items.GENRES IN, "
        "found end of expression"
    )


def test_a_promotion_from_the_command_line_is_marked(capsys, home):
    run(capsys, "--home", home, "filter", "create", "g", "horror", "--expression",
        'INCLUDE ItemID WHERE Items.GENRES IN ("Horror")')  # fmt: skip
    promotion = json.dumps({"name": "scary", "percentPromotedItems": 30, "filterName": "horror"})
    status, items, err = recommend(capsys, home, "-n", "10", "--promotion", promotion)
    assert status == 0, err
    promoted = [item for item in items if "promotionName" in item]
    assert [item["promotionName"] for item in promoted] == ["scary"] * 3
    assert all(item["itemId"].startswith("i2") for item in promoted)


def test_filter_values_that_are_not_json_are_a_usage_error(capsys, home):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--home",
                home,
                "recommend",
                "g",
                "home",
                "--user-id",
                "u0-01",
                "--filter-values",
                "{x",
            ]
        )
    assert exit_info.value.code == 2
    assert "--filter-values: not valid JSON" in capsys.readouterr().err
