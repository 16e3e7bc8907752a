"""Tests for :mod:`datasets.movielens` on MovieLens 100K and a small ``ratings.csv`` family."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import fastavro
import pytest

from datasets import convert_movielens
from engine.errors import InvalidInputError, NotFoundError
from tests.shared_datasets import ML_100K

needs_ml_100k = pytest.mark.skipif(
    not (ML_100K / "u.data").is_file(),
    reason=f"MovieLens 100K is not at {ML_100K.resolve()} (it is never committed: licence)",
)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def ml_100k(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return convert_movielens(ML_100K, tmp_path_factory.mktemp("ml-100k"))


@needs_ml_100k
def test_ml_100k_converts_every_rating_user_and_item(ml_100k: dict[str, Path]) -> None:
    interactions = read_rows(ml_100k["interactions"])
    users = read_rows(ml_100k["users"])
    items = read_rows(ml_100k["items"])

    assert len(interactions) - 1 == 100_000
    assert len(users) - 1 == 943
    assert len(items) - 1 == 1682
    assert len({row[0] for row in interactions[1:]}) == 943
    assert len({row[1] for row in interactions[1:]}) == 1682


@needs_ml_100k
def test_ml_100k_first_rows_have_exact_values(ml_100k: dict[str, Path]) -> None:
    interactions = read_rows(ml_100k["interactions"])
    users = read_rows(ml_100k["users"])

    assert interactions[0] == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    assert interactions[1] == ["196", "242", "rating", "3.0", "881250949"]
    assert users[0] == ["USER_ID", "AGE", "GENDER", "OCCUPATION", "AGE_GROUP"]
    assert users[1] == ["1", "24", "M", "technician", "18-24"]
    assert {row[2] for row in interactions[1:]} == {"rating"}
    assert {row[3] for row in interactions[1:]} == {"1.0", "2.0", "3.0", "4.0", "5.0"}


@needs_ml_100k
def test_ml_100k_items_have_genres_year_and_quoted_titles(ml_100k: dict[str, Path]) -> None:
    items = {row[0]: row for row in read_rows(ml_100k["items"])}

    assert items["ITEM_ID"] == ["ITEM_ID", "GENRES", "YEAR", "TITLE"]
    assert items["1"] == ["1", "Animation|Children's|Comedy", "1995", "Toy Story (1995)"]
    assert items["12"][3] == "Usual Suspects, The (1995)"
    assert items["181"][2:] == ["1983", "Return of the Jedi (1983)"]  # released on video 1997
    assert items["267"] == ["267", "unknown", "", "unknown"]


@needs_ml_100k
def test_ml_100k_schemas_are_valid_avro_with_service_marks(ml_100k: dict[str, Path]) -> None:
    schemas = {
        name: json.loads(ml_100k[f"{name}_schema"].read_text(encoding="utf-8"))
        for name in ("interactions", "items", "users")
    }
    for name, schema in schemas.items():
        fastavro.parse_schema(schema)
        header = read_rows(ml_100k[name])[0]
        assert [field["name"] for field in schema["fields"]] == header
        assert schema["name"] == name.capitalize()
        assert schema["namespace"] == "com.amazonaws.personalize.schema"

    items = {field["name"]: field for field in schemas["items"]["fields"]}
    assert items["GENRES"] == {"name": "GENRES", "type": ["null", "string"], "categorical": True}
    assert items["YEAR"]["type"] == ["null", "int"]
    assert items["TITLE"] == {"name": "TITLE", "type": "string", "textual": True}
    users = {field["name"]: field for field in schemas["users"]["fields"]}
    assert users["AGE"]["type"] == "int"
    assert all(users[name]["categorical"] for name in ("GENDER", "OCCUPATION", "AGE_GROUP"))


@needs_ml_100k
def test_ml_100k_converts_in_under_two_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    convert_movielens(ML_100K, tmp_path)
    assert time.perf_counter() - started < 2.0


def test_ratings_csv_family_converts_ratings_and_movies(tmp_path: Path) -> None:
    source = tmp_path / "ml-latest-small"
    source.mkdir()
    (source / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,6,3,964982224\n",
        encoding="utf-8",
    )
    (source / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '3,"Grumpier Old Men, The ""Sequel"" (1995)",Comedy|Romance\n'
        "6,Untitled,(no genres listed)\n",
        encoding="utf-8",
    )

    paths = convert_movielens(source, tmp_path / "out")

    assert sorted(paths) == ["interactions", "interactions_schema", "items", "items_schema"]
    assert read_rows(paths["interactions"])[1:] == [
        ["1", "1", "rating", "4.0", "964982703"],
        ["1", "3", "rating", "4.5", "964981247"],
        ["2", "6", "rating", "3.0", "964982224"],
    ]
    assert read_rows(paths["items"])[1:] == [
        ["1", "Adventure|Animation|Children|Comedy|Fantasy", "1995", "Toy Story (1995)"],
        ["3", "Comedy|Romance", "1995", 'Grumpier Old Men, The "Sequel" (1995)'],
        ["6", "", "", "Untitled"],
    ]


def test_convert_rejects_a_directory_without_ratings(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"holds no MovieLens ratings: expected u\.data"):
        convert_movielens(tmp_path, tmp_path / "out")


def test_convert_names_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "ml-100k"
    with pytest.raises(NotFoundError, match=f"^MovieLens folder {missing} does not exist$"):
        convert_movielens(missing, tmp_path / "out")
