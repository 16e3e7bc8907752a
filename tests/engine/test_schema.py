"""Tests of engine.schema: the sample schemas, every service rule, and round trips."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, NotFoundError, SchemaError
from engine.schema import DATASET_TYPES, Field, Schema, normalize_dataset_type, parse_schema
from tests.shared_datasets import SAMPLES

SAMPLES = SAMPLES / "schemas"
SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))
RECORD_NAMES = {"INTERACTIONS": "Interactions", "USERS": "Users", "ITEMS": "Items"}
REQUIRED = {
    "INTERACTIONS": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "USERS": [{"name": "USER_ID", "type": "string"}],
    "ITEMS": [{"name": "ITEM_ID", "type": "string"}],
}
KEYWORDS = {
    "USERID",
    "ITEMID",
    "TIMESTAMP",
    "EVENTTYPE",
    "EVENTVALUE",
    "IMPRESSION",
    "RECOMMENDATIONID",
    "EVENTATTRIBUTIONSOURCE",
    "CREATIONTIMESTAMP",
}


def make_schema(dataset_type: str, *extra: dict[str, Any], **top: Any) -> dict[str, Any]:
    """Return a valid schema of ``dataset_type`` with ``extra`` fields appended."""
    fields = [dict(column) for column in REQUIRED[dataset_type]] + list(extra)
    avro = {"type": "record", "name": RECORD_NAMES[dataset_type], "fields": fields}
    return avro | top


def numbered(count: int, prefix: str = "META") -> list[dict[str, Any]]:
    """Return ``count`` int metadata fields."""
    return [{"name": f"{prefix}_{index}", "type": "int"} for index in range(count)]


def replace_field(avro: dict[str, Any], column: dict[str, Any]) -> dict[str, Any]:
    """Return ``avro`` with the field of the same name as ``column`` replaced."""
    fields = [column if old["name"] == column["name"] else old for old in avro["fields"]]
    return avro | {"fields": fields}


def dataset_type_of(path: Path) -> str:
    """Return the dataset type a sample's file name says."""
    found = re.search(r"(interactions|users|items)\.json$", path.name)
    assert found is not None, path.name
    return found.group(1)


# The samples


def test_samples_are_present() -> None:
    assert len(SAMPLE_FILES) == 10


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_schema_is_accepted(path: Path) -> None:
    schema = parse_schema(path, dataset_type_of(path))

    assert schema.dataset_type == dataset_type_of(path).upper()
    assert schema.avro == json.loads(path.read_text())
    assert [column.name for column in schema.fields] == [
        raw["name"] for raw in schema.avro["fields"]
    ]


def test_pet_items_sample_has_exact_fields() -> None:
    schema = parse_schema(SAMPLES / "02_pet_items.json", "Items")

    assert schema.fields == (
        Field("ITEM_ID", "string", False),
        Field("ANIMAL_BREED", "string", False, categorical=True),
        Field("ANIMAL_AGE", "string", False, categorical=True),
        Field("ANIMAL_TYPE", "string", False, categorical=True),
        Field("ANIMAL_SIZE", "string", False, categorical=True),
        Field("item_value", "float", False),
        Field("CREATION_TIMESTAMP", "long", False),
    )
    assert [column.name for column in schema.metadata_fields] == [
        "ANIMAL_BREED",
        "ANIMAL_AGE",
        "ANIMAL_TYPE",
        "ANIMAL_SIZE",
        "item_value",
    ]


def test_news_interactions_sample_has_exact_fields() -> None:
    schema = parse_schema(SAMPLES / "06_immersion_news_interactions.json", "interactions")

    assert schema.fields == (
        Field("USER_ID", "string", False),
        Field("ITEM_ID", "string", False),
        Field("TIMESTAMP", "long", False),
        Field("SESSION_ID", "string", False),
        Field("EVENT_TYPE", "string", False),
        Field("user_device_type", "string", True, categorical=True),
    )
    assert schema.metadata_fields == (schema.fields[3], schema.fields[5])


def test_news_items_sample_has_nullable_textual_field() -> None:
    schema = parse_schema(SAMPLES / "07_immersion_news_items.json", "ITEMS")

    assert schema.field("training_text") == Field("TRAINING_TEXT", "string", True, textual=True)
    assert schema.field("LANG") == Field("LANG", "string", False, categorical=True)


# Broken schemas: each names the field and the rule

BROKEN: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "top_level_enum",
        "ITEMS",
        {"type": "enum", "name": "Items", "symbols": ["A"]},
        'the top-level type must be "record", not "enum"',
    ),
    (
        "record_name_wrong",
        "INTERACTIONS",
        make_schema("INTERACTIONS", name="Movies"),
        'the record name must be "Interactions" (case is ignored) for dataset type INTERACTIONS',
    ),
    (
        "nested_record",
        "USERS",
        make_schema(
            "USERS",
            {
                "name": "ADDRESS",
                "type": {"type": "record", "name": "A", "fields": [{"name": "X", "type": "int"}]},
            },
        ),
        "field ADDRESS: nested type record is not allowed; records must be flat",
    ),
    (
        "array",
        "ITEMS",
        make_schema("ITEMS", {"name": "TAGS", "type": {"type": "array", "items": "string"}}),
        "field TAGS: nested type array is not allowed",
    ),
    (
        "bytes",
        "ITEMS",
        make_schema("ITEMS", {"name": "PHOTO", "type": "bytes"}),
        'field PHOTO: type "bytes" is not allowed',
    ),
    (
        "union_of_three",
        "ITEMS",
        make_schema("ITEMS", {"name": "PRICE", "type": ["null", "int", "float"]}),
        'field PRICE: union ["null", "int", "float"] is not allowed',
    ),
    (
        "union_without_null",
        "ITEMS",
        make_schema("ITEMS", {"name": "PRICE", "type": ["int", "float"]}),
        'field PRICE: union ["int", "float"] is not allowed',
    ),
    (
        "null_alone",
        "USERS",
        make_schema("USERS", {"name": "AGE", "type": "int"}, {"name": "NOTHING", "type": "null"}),
        'field NOTHING: type "null" alone holds no data',
    ),
    (
        "missing_timestamp",
        "INTERACTIONS",
        make_schema("INTERACTIONS") | {"fields": REQUIRED["INTERACTIONS"][:2]},
        "field TIMESTAMP: required field TIMESTAMP (long) is missing from the INTERACTIONS schema",
    ),
    (
        "user_id_int",
        "INTERACTIONS",
        replace_field(make_schema("INTERACTIONS"), {"name": "USER_ID", "type": "int"}),
        "field USER_ID: required field USER_ID must have type string, not int",
    ),
    (
        "item_id_nullable",
        "ITEMS",
        replace_field(
            make_schema("ITEMS", *numbered(1)), {"name": "ITEM_ID", "type": ["null", "string"]}
        ),
        "field ITEM_ID: required field ITEM_ID must not be nullable",
    ),
    (
        "item_id_categorical",
        "ITEMS",
        replace_field(
            make_schema("ITEMS", *numbered(1)),
            {"name": "ITEM_ID", "type": "string", "categorical": True},
        ),
        "field ITEM_ID: required field ITEM_ID must not be categorical",
    ),
    (
        "users_without_metadata",
        "USERS",
        make_schema("USERS"),
        "fields USER_ID: dataset type USERS needs at least one metadata field",
    ),
    (
        "items_with_only_creation_timestamp",
        "ITEMS",
        make_schema("ITEMS", {"name": "CREATION_TIMESTAMP", "type": "long"}),
        "fields ITEM_ID, CREATION_TIMESTAMP: dataset type ITEMS needs at least one metadata field",
    ),
    (
        "event_type_categorical",
        "INTERACTIONS",
        make_schema("INTERACTIONS", {"name": "EVENT_TYPE", "type": "string", "categorical": True}),
        "field EVENT_TYPE: reserved keyword EVENT_TYPE must not be categorical",
    ),
    (
        "event_type_nullable",
        "INTERACTIONS",
        make_schema("INTERACTIONS", {"name": "EVENT_TYPE", "type": ["null", "string"]}),
        "field EVENT_TYPE: reserved keyword EVENT_TYPE must not be nullable",
    ),
    (
        "event_value_string",
        "INTERACTIONS",
        make_schema("INTERACTIONS", {"name": "EVENT_VALUE", "type": "string"}),
        "field EVENT_VALUE: reserved keyword EVENT_VALUE must have type float or double, "
        "not string",
    ),
    (
        "impression_int",
        "INTERACTIONS",
        make_schema("INTERACTIONS", {"name": "IMPRESSION", "type": "int"}),
        "field IMPRESSION: reserved keyword IMPRESSION must have type string, not int",
    ),
    (
        "recommendation_id_categorical",
        "INTERACTIONS",
        make_schema(
            "INTERACTIONS", {"name": "RECOMMENDATION_ID", "type": "string", "categorical": True}
        ),
        "field RECOMMENDATION_ID: reserved keyword RECOMMENDATION_ID must not be categorical",
    ),
    (
        "creation_timestamp_int",
        "ITEMS",
        make_schema("ITEMS", *numbered(1), {"name": "creation_timestamp", "type": "int"}),
        "field creation_timestamp: reserved keyword CREATION_TIMESTAMP must have type long, "
        "not int",
    ),
    (
        "categorical_int",
        "ITEMS",
        make_schema("ITEMS", {"name": "YEAR", "type": "int", "categorical": True}),
        "field YEAR: only string fields may be categorical, not int",
    ),
    (
        "textual_float",
        "ITEMS",
        make_schema("ITEMS", {"name": "PRICE", "type": "float", "textual": True}),
        "field PRICE: only string fields may be textual, not float",
    ),
    (
        "textual_in_users",
        "USERS",
        make_schema("USERS", {"name": "BIO", "type": "string", "textual": True}),
        "field BIO: textual fields are allowed only in an ITEMS schema",
    ),
    (
        "two_textual",
        "ITEMS",
        make_schema(
            "ITEMS",
            {"name": "TITLE", "type": "string", "textual": True},
            {"name": "PLOT", "type": "string", "textual": True},
        ),
        "fields TITLE, PLOT: at most one field may be textual",
    ),
    (
        "categorical_and_textual",
        "ITEMS",
        make_schema(
            "ITEMS", {"name": "PLOT", "type": "string", "textual": True, "categorical": True}
        ),
        "field PLOT: a field cannot be both categorical and textual",
    ),
    (
        "categorical_not_boolean",
        "ITEMS",
        make_schema("ITEMS", {"name": "GENRE", "type": "string", "categorical": "yes"}),
        "field GENRE: categorical must be true or false, not 'yes'",
    ),
    (
        "six_interaction_metadata",
        "INTERACTIONS",
        make_schema("INTERACTIONS", {"name": "EVENT_TYPE", "type": "string"}, *numbered(6)),
        "dataset type INTERACTIONS allows at most 5 metadata fields besides required and reserved "
        "ones, found 6; remove 1",
    ),
    (
        "twenty_six_user_metadata",
        "USERS",
        make_schema("USERS", *numbered(26)),
        "dataset type USERS allows at most 25 metadata fields",
    ),
    (
        "hundred_and_one_item_metadata",
        "ITEMS",
        make_schema("ITEMS", *numbered(101)),
        "dataset type ITEMS allows at most 100 metadata fields",
    ),
    (
        "names_collide",
        "ITEMS",
        make_schema(
            "ITEMS",
            {"name": "GENRES_FIELD_1", "type": "string", "categorical": True},
            {"name": "GENRESFIELD1", "type": "string", "categorical": True},
        ),
        "field GENRESFIELD1: the name collides with GENRES_FIELD_1 once non-alphanumeric",
    ),
    (
        "keyword_collides_with_lower_case",
        "USERS",
        make_schema("USERS", {"name": "AGE", "type": "int"}, {"name": "user_id", "type": "string"}),
        "field user_id: the name collides with USER_ID",
    ),
    (
        "name_with_hyphen",
        "ITEMS",
        make_schema("ITEMS", {"name": "bad-name", "type": "int"}),
        "field bad-name: the name must start with a letter or underscore",
    ),
    (
        "too_long",
        "ITEMS",
        make_schema("ITEMS", *numbered(1), doc="x" * 20_000),
        "characters long; the limit is 20,000",
    ),
    (
        "unknown_type_rejected_by_fastavro",
        "ITEMS",
        make_schema("ITEMS", {"name": "GENRE", "type": "strin"}),
        "the schema is not valid Avro: UnknownType: strin",
    ),
]


@pytest.mark.parametrize(
    ("dataset_type", "avro", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_schema_is_rejected_with_reason(
    dataset_type: str, avro: dict[str, Any], message: str
) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        parse_schema(avro, dataset_type)


def test_every_broken_rule_is_listed() -> None:
    avro = make_schema(
        "INTERACTIONS",
        {"name": "EVENT_TYPE", "type": "string", "categorical": True},
        {"name": "BIO", "type": "string", "textual": True},
        name="Events",
    )
    avro["fields"] = avro["fields"][1:]

    with pytest.raises(SchemaError) as raised:
        parse_schema(json.dumps(avro), "interactions", name="events.json")

    assert raised.value.source == "events.json"
    assert raised.value.reasons == [
        'the record name must be "Interactions" (case is ignored) for dataset type INTERACTIONS, '
        'not "Events"',
        "field USER_ID: required field USER_ID (string) is missing from the INTERACTIONS "
        "schema; add it",
        "field EVENT_TYPE: reserved keyword EVENT_TYPE must not be categorical",
        "field BIO: textual fields are allowed only in an ITEMS schema",
    ]


def test_invalid_json_text_is_rejected() -> None:
    with pytest.raises(SchemaError, match="schema is not a valid schema: the schema is not valid"):
        parse_schema('{"type": "record",', "items")


def test_error_source_is_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken_users.json"
    path.write_text(json.dumps(make_schema("USERS")))

    with pytest.raises(SchemaError, match="^broken_users.json is not a valid schema") as raised:
        parse_schema(str(path), "users")
    assert raised.value.source == "broken_users.json"


def test_a_missing_schema_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(NotFoundError, match=f"^schema file {re.escape(str(path))} does not exist$"):
        parse_schema(path, "users")


def test_json_array_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]")

    with pytest.raises(SchemaError, match="the schema must be a JSON object, not a list"):
        parse_schema(path, "users")


# Accepted variants


@pytest.mark.parametrize("union", [["null", "float"], ["float", "null"]])
def test_null_union_is_accepted_in_either_order(union: list[str]) -> None:
    schema = parse_schema(make_schema("ITEMS", {"name": "PRICE", "type": union}), "items")

    assert schema.field("PRICE") == Field("PRICE", "float", True)


@pytest.mark.parametrize("record_name", ["Users", "users", "USERS", "uSeRs"])
def test_record_name_ignores_case(record_name: str) -> None:
    avro = make_schema("USERS", *numbered(1), name=record_name)

    assert parse_schema(avro, "Users").avro["name"] == record_name


@pytest.mark.parametrize(
    ("dataset_type", "column"),
    [
        ("INTERACTIONS", {"name": "EVENT_VALUE", "type": "float"}),
        ("INTERACTIONS", {"name": "EVENT_VALUE", "type": ["double", "null"]}),
        ("INTERACTIONS", {"name": "IMPRESSION", "type": ["null", "string"], "categorical": True}),
        ("INTERACTIONS", {"name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"]}),
        ("INTERACTIONS", {"name": "event_type", "type": "string"}),
        ("ITEMS", {"name": "PRICE", "type": "float", "categorical": False}),
        ("USERS", {"name": "IS_MEMBER", "type": {"type": "boolean"}}),
    ],
)
def test_allowed_field_is_accepted(dataset_type: str, column: dict[str, Any]) -> None:
    avro = make_schema(dataset_type, column)
    if dataset_type == "ITEMS":
        avro["fields"].append({"name": "CREATION_TIMESTAMP", "type": "long"})

    assert parse_schema(avro, dataset_type).has_field(column["name"].upper())


def test_reserved_keywords_are_not_metadata() -> None:
    avro = make_schema(
        "INTERACTIONS",
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": "float"},
        {"name": "IMPRESSION", "type": "string"},
        *numbered(5),
    )

    schema = parse_schema(avro, "interactions")
    assert [column.name for column in schema.metadata_fields] == [f"META_{i}" for i in range(5)]


def test_sources_of_each_kind_give_the_same_schema(tmp_path: Path) -> None:
    avro = make_schema("USERS", {"name": "GENDER", "type": "string", "categorical": True})
    path = tmp_path / "users.json"
    path.write_text(json.dumps(avro, indent=2))

    from_mapping = parse_schema(avro, "USERS")
    assert parse_schema(json.dumps(avro), "USERS") == from_mapping
    assert parse_schema(path, "USERS") == from_mapping
    assert parse_schema(str(path), "USERS") == from_mapping


def test_schema_keeps_its_own_copy_of_the_mapping() -> None:
    avro = make_schema("USERS", *numbered(1))
    schema = parse_schema(avro, "users")
    avro["fields"].append({"name": "LATE", "type": "int"})

    assert not schema.has_field("LATE")
    assert len(schema.avro["fields"]) == 2


def test_field_lookup_ignores_case_and_reports_missing_names() -> None:
    schema = parse_schema(make_schema("USERS", {"name": "Age", "type": "int"}), "users")

    assert schema.field("AGE") is schema.field("age")
    assert schema.has_field("user_id")
    assert not schema.has_field("GENDER")
    with pytest.raises(KeyError, match="the USERS schema has no field 'GENDER'; fields: USER_ID"):
        schema.field("GENDER")


def test_schema_is_hashable() -> None:
    schema = parse_schema(make_schema("USERS", *numbered(1)), "users")

    assert hash(schema) == hash(parse_schema(schema.to_json(), "users"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("interactions", "INTERACTIONS"), ("Users", "USERS"), ("ITEMS", "ITEMS")],
)
def test_dataset_type_is_normalized(value: str, expected: str) -> None:
    assert normalize_dataset_type(value) == expected


@pytest.mark.parametrize("value", ["Actions", "", "event"])
def test_unknown_dataset_type_lists_the_allowed_ones(value: str) -> None:
    message = f"dataset type {value!r} is not supported; use one of INTERACTIONS, USERS, ITEMS"
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        normalize_dataset_type(value)


# Round trip


def normalized(name: str) -> str:
    """Return ``name`` as the uniqueness rule compares it."""
    return re.sub(r"[^0-9A-Za-z]", "", name).upper()


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda name: normalized(name) not in KEYWORDS
)
TYPES = st.sampled_from(["string", "int", "long", "float", "double", "boolean"])


@st.composite
def metadata_field(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Draw one metadata field called ``name``."""
    base = draw(TYPES)
    column: dict[str, Any] = {"name": name, "type": base}
    if draw(st.booleans()):
        column["type"] = draw(st.permutations(["null", base]))
    if base == "string" and draw(st.booleans()):
        column["categorical"] = draw(st.booleans())
    return column


@st.composite
def valid_schemas(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Draw a dataset type and a schema that obeys every rule of it."""
    dataset_type = draw(st.sampled_from(DATASET_TYPES))
    upper = {"INTERACTIONS": 5, "USERS": 8, "ITEMS": 8}[dataset_type]
    lower = 0 if dataset_type == "INTERACTIONS" else 1
    names = draw(st.lists(NAMES, min_size=lower, max_size=upper, unique_by=normalized))

    extra = [draw(metadata_field(name)) for name in names]
    strings = [column for column in extra if "string" in column["type"]]
    wants_textual: bool = draw(st.booleans())
    if dataset_type == "ITEMS" and strings and wants_textual:
        strings[0].pop("categorical", None)
        strings[0]["textual"] = True

    avro = make_schema(dataset_type, *extra, namespace="com.amazonaws.personalize.schema")
    avro["fields"] = draw(st.permutations(avro["fields"]))
    avro["name"] = draw(st.sampled_from([avro["name"], avro["name"].lower()]))
    return dataset_type, avro


@settings(database=None, max_examples=60, deadline=None)
@given(valid_schemas())
def test_valid_schema_round_trips_through_json(case: tuple[str, dict[str, Any]]) -> None:
    dataset_type, avro = case

    schema = parse_schema(avro, dataset_type)
    again = parse_schema(schema.to_json(), dataset_type.lower())

    assert isinstance(again, Schema)
    assert again == schema
    assert again.avro == avro
    assert again.to_json() == schema.to_json()
    assert [column.name for column in again.fields] == [raw["name"] for raw in avro["fields"]]
