"""Filters as named objects of a dataset group."""

import re

import pytest

from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from engine.filter_store import (
    MAX_FILTERS,
    create_filter,
    delete_filter,
    field_kinds,
    get_filter,
    list_filters,
)
from engine.filters import FilterSyntaxError
from engine.store import Store
from tests.engine.planted_catalogue import add_catalogue


@pytest.fixture
def group(planted_group, tmp_path):
    add_catalogue(planted_group, tmp_path)
    return planted_group


def test_a_created_filter_is_stored_and_read_back_as_written(group):
    text = "EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES) IF CurrentUser.AGE < 18"
    created = create_filter(group, "no-genres", text)
    reopened = Store(group.root).dataset_group(group.name)
    found = get_filter(reopened, "no-genres")
    assert found == created
    assert found.describe() | {"created": None} == {
        "name": "no-genres",
        "dataset_group": "planted",
        "filter_expression": text,
        "target": "ItemID",
        "status": "ACTIVE",
        "failure_reason": None,
        "created": None,
        "placeholders": ["GENRES"],
    }


def test_filters_are_listed_by_name_and_deleted(group):
    for name in ("b", "a", "c"):
        create_filter(group, name, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
    assert [found.name for found in list_filters(group)] == ["a", "b", "c"]
    delete_filter(group, "b")
    assert [found.name for found in list_filters(group)] == ["a", "c"]
    with pytest.raises(
        NotFoundError, match="^filter 'b' does not exist in dataset group 'planted'$"
    ):
        get_filter(group, "b")
    with pytest.raises(NotFoundError, match="^filter 'b' does not exist"):
        delete_filter(group, "b")


def test_a_malformed_expression_is_refused_at_creation_with_position_and_expectation(group):
    message = (
        "filter expression: at position 35: expected IN, NOT IN or a comparison operator after "
        "Items.GENRES, found 'HAS'"
    )
    with pytest.raises(FilterSyntaxError, match="^" + re.escape(message) + "$"):
        create_filter(group, "bad", 'INCLUDE ItemID WHERE Items.GENRES HAS ("x")')
    assert list_filters(group) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            'INCLUDE ItemID WHERE Items.COLOUR IN ("red") IF CurrentUser.HEIGHT > 3',
            "filter expression uses fields that do not exist: Items.COLOUR (Items has "
            "DESCRIPTION, GENRES, IN_STOCK, ITEM_ID, PRICE), CurrentUser.HEIGHT (Users has AGE, "
            "MEMBERSHIP, USER_ID)",
        ),
        (
            'EXCLUDE ItemID WHERE Items.DESCRIPTION IN ("x")',
            "filter expression: at position 22: Items.DESCRIPTION is a textual field; filters "
            "on textual fields are not supported",
        ),
        (
            "INCLUDE ItemID WHERE Items.GENRES >= 3",
            "filter expression: at position 22: Items.GENRES is a categorical field; >= needs a "
            "numeric field",
        ),
        (
            "INCLUDE ItemID WHERE Items.PRICE < 3 IF CurrentUser.MEMBERSHIP > 2",
            "filter expression: at position 41: CurrentUser.MEMBERSHIP is a categorical field; "
            "> needs a numeric field",
        ),
    ],
)
def test_fields_are_checked_against_the_groups_datasets(group, expression, message):
    with pytest.raises(InvalidInputError, match="^" + re.escape(message) + "$"):
        create_filter(group, "bad", expression)


def test_field_kinds_follow_the_schemas(group):
    assert field_kinds(group)["ITEMS"] == {
        "ITEM_ID": "categorical",
        "GENRES": "categorical",
        "PRICE": "numeric",
        "IN_STOCK": "boolean",
        "DESCRIPTION": "textual",
    }


def test_users_fields_without_a_users_dataset_are_named(planted_group):
    with pytest.raises(InvalidInputError, match=re.escape("CurrentUser.AGE (no Users dataset)")):
        create_filter(
            planted_group, "kids", "EXCLUDE ItemID WHERE Items.PRICE > 3 IF CurrentUser.AGE < 9"
        )


def test_names_are_unique_and_checked(group):
    create_filter(group, "seen", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
    with pytest.raises(AlreadyExistsError, match="^filter 'seen' already exists in dataset group"):
        create_filter(group, "seen", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
    with pytest.raises(InvalidInputError, match="^name 'not ok' is not valid"):
        create_filter(group, "not ok", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')


def test_a_group_holds_at_most_thirty_filters(group):
    for number in range(MAX_FILTERS):
        create_filter(group, f"f{number}", f"EXCLUDE ItemID WHERE Items.PRICE > {number}")
    with pytest.raises(InvalidInputError, match="has 30 filters already; at most 30 are allowed"):
        create_filter(group, "one-more", "EXCLUDE ItemID WHERE Items.PRICE > 99")


def test_the_filters_of_a_group_name_at_most_twenty_distinct_fields(tmp_path):
    group = Store(tmp_path).create_dataset_group("wide")
    fields = [{"name": "ITEM_ID", "type": "string"}] + [
        {"name": f"F{number}", "type": "int"} for number in range(25)
    ]
    group.create_dataset(
        "ITEMS", {"type": "record", "name": "Items", "fields": fields, "version": "1.0"}
    )
    for start in (0, 10):
        conditions = " AND ".join(f"Items.F{n} > 0" for n in range(start, start + 10))
        create_filter(group, f"from-{start}", f"INCLUDE ItemID WHERE {conditions}")
    message = "would bring the distinct fields used by the filters of dataset group 'wide' to 21"
    with pytest.raises(InvalidInputError, match=message + r".*\(it adds ITEMS\.F20\)$"):
        create_filter(group, "over", "INCLUDE ItemID WHERE Items.F0 > 1 AND Items.F20 > 1")
    create_filter(group, "reuses", "INCLUDE ItemID WHERE Items.F0 > 1 AND Items.F19 > 1")
