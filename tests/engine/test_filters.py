"""Filter expressions: parsing, evaluation as item masks and the service's combination rules."""

import math
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.filters import (
    FilterContext,
    FilterSyntaxError,
    columns_from_table,
    parse_filter,
    parse_values,
    row_from_table,
)

ITEM_IDS = np.array([f"i{index}" for index in range(10)])
ITEMS = {
    "GENRES": np.array(
        [
            "Action|Comedy",
            "Drama",
            "Comedy",
            "Horror|Thriller",
            "Action",
            None,
            "Drama|Romance",
            "Comedy|Romance",
            "Thriller",
            "Documentary",
        ],
        dtype=object,
    ),
    "PRICE": np.array([9.99, 5.0, 15.5, 20.0, np.nan, 3.0, 12.0, 7.5, 25.0, 0.0]),
    "IN_STOCK": np.array([True, False, True, True, False, True, None, True, False, True]),
    "YEAR": np.array([1999, 2005, 2010, 1985, 2020, 2001, 2015, 2010, 1995, 2022]),
    "RATING": np.array(["PG", "R", "PG", "R", "PG-13", "G", "PG-13", "PG", "R", "G"], object),
}
USER = {"AGE": 16, "MEMBERSHIP": "gold"}
# Clicked i0, i2, i3 (one click recorded as "CLICK"); watched i2, i5.
EVENTS = (np.array([0, 2, 3, 2, 5]), np.array(["click", "click", "CLICK", "watch", "watch"]))
ALL = set(range(10))


@pytest.fixture(scope="module")
def context():
    catalogue = FilterContext(ITEM_IDS, ITEMS)
    return catalogue.for_request(users=USER, user_events=EVENTS, current_item=0)


def kept(mask):
    return {int(index) for index in np.flatnonzero(mask)}


WHERE = "INCLUDE ItemID WHERE "
CASES = [
    # Items: IN, NOT IN, =, != on a multi-valued categorical field.
    (WHERE + 'Items.GENRES IN ("Comedy")', None, {0, 2, 7}),
    ('EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy")', None, ALL - {0, 2, 7}),
    (WHERE + 'Items.GENRES IN ("Comedy", "Drama")', None, {0, 1, 2, 6, 7}),
    (WHERE + 'Items.GENRES NOT IN ("Comedy", "Drama")', None, {3, 4, 5, 8, 9}),
    (WHERE + 'Items.GENRES = "Action"', None, {0, 4}),
    (WHERE + 'Items.GENRES != "Action"', None, ALL - {0, 4}),
    (WHERE + 'Items.GENRES IN ("comedy")', None, set()),
    ('include itemid where items.genres in ("Comedy")', None, {0, 2, 7}),
    # Items: numeric comparisons; a missing price matches only != and NOT IN.
    (WHERE + "Items.PRICE < 10", None, {0, 1, 5, 7, 9}),
    (WHERE + "Items.PRICE <= 12", None, {0, 1, 5, 6, 7, 9}),
    (WHERE + "Items.PRICE > 15.5", None, {3, 8}),
    (WHERE + "Items.PRICE >= 15.5", None, {2, 3, 8}),
    (WHERE + "Items.PRICE = 20", None, {3}),
    (WHERE + "Items.PRICE != 20", None, ALL - {3}),
    (WHERE + "Items.PRICE IN (5, 7.5)", None, {1, 7}),
    (WHERE + "Items.YEAR IN (2010, 2020)", None, {2, 4, 7}),
    (WHERE + "Items.YEAR NOT IN (2010, 2020)", None, {0, 1, 3, 5, 6, 8, 9}),
    # Booleans, quoted or not, any case.
    (WHERE + 'Items.IN_STOCK = "true"', None, {0, 2, 3, 5, 7, 9}),
    (WHERE + 'Items.IN_STOCK IN ("False")', None, {1, 4, 8}),
    (WHERE + "Items.IN_STOCK = true", None, {0, 2, 3, 5, 7, 9}),
    ("EXCLUDE ItemID WHERE Items.IN_STOCK = false", None, {0, 2, 3, 5, 6, 7, 9}),
    # AND binds tighter than OR; parentheses group.
    (WHERE + 'Items.GENRES IN ("Comedy") AND Items.PRICE < 10', None, {0, 7}),
    (WHERE + 'Items.GENRES IN ("Drama") OR Items.PRICE > 20', None, {1, 6, 8}),
    (
        WHERE + 'Items.GENRES IN ("Drama") OR Items.GENRES IN ("Comedy") AND Items.PRICE < 10',
        None,
        {0, 1, 6, 7},
    ),
    (
        WHERE + '(Items.GENRES IN ("Drama") OR Items.GENRES IN ("Comedy")) AND Items.PRICE < 10',
        None,
        {0, 1, 7},
    ),
    (
        WHERE + 'Items.YEAR > 2010 AND Items.YEAR < 2021 OR Items.RATING = "G"',
        None,
        {4, 5, 6, 9},
    ),
    # Placeholders: escaped strings, numbers, lists, parenthesized, omitted.
    (WHERE + "Items.GENRES IN ($GENRES)", {"GENRES": '"Horror","Documentary"'}, {3, 9}),
    (WHERE + "Items.PRICE < $MAX", {"MAX": "10"}, {0, 1, 5, 7, 9}),
    (WHERE + "Items.YEAR IN ($YEARS)", {"YEARS": "2010, 1985"}, {2, 3, 7}),
    (WHERE + "Items.PRICE >= ($MIN)", {"MIN": "20"}, {3, 8}),
    (WHERE + "Items.RATING = $RATING", {"RATING": '"PG-13"'}, {4, 6}),
    ("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)", None, ALL),
    ("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)", {"GENRES": ""}, ALL),
    # | combinations: union of INCLUDEs minus union of EXCLUDEs, in any order.
    (
        'INCLUDE ItemID WHERE Items.PRICE < 10 | EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy")',
        None,
        {1, 5, 9},
    ),
    (
        'EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy") | INCLUDE ItemID WHERE Items.PRICE < 10',
        None,
        {1, 5, 9},
    ),
    (
        'EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy") | '
        'EXCLUDE ItemID WHERE Items.IN_STOCK = "false"',
        None,
        {3, 5, 6, 9},
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") | INCLUDE ItemID WHERE Items.PRICE > 20',
        None,
        {1, 6, 8},
    ),
    # Interactions of the current user: whole history, event types case-insensitive.
    (WHERE + 'Interactions.EVENT_TYPE IN ("click")', None, {0, 2, 3}),
    (WHERE + 'Interactions.EVENT_TYPE IN ("WATCH")', None, {2, 5}),
    ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', None, {1, 4, 6, 7, 8, 9}),
    (WHERE + 'Interactions.EVENT_TYPE NOT IN ("click")', None, {2, 5}),
    (
        WHERE + 'Interactions.EVENT_TYPE = "watch" OR Interactions.EVENT_TYPE = "click"',
        None,
        {0, 2, 3, 5},
    ),
    (
        "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENTS)",
        {"EVENTS": '"watch"'},
        ALL - {2, 5},
    ),
    (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE = "click" | '
        'EXCLUDE ItemID WHERE Items.GENRES IN ("Thriller")',
        None,
        {1, 4, 5, 6, 7, 9},
    ),
    # CurrentItem (i0: Action|Comedy, 9.99).
    (WHERE + "Items.GENRES IN CurrentItem.GENRES", None, {0, 2, 4, 7}),
    (
        WHERE + "Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES",
        None,
        {7},
    ),
    ("EXCLUDE ItemID WHERE Items.GENRES NOT IN (CurrentItem.GENRES)", None, {0, 2, 4, 7}),
    # IF CurrentUser (AGE 16, MEMBERSHIP gold): a false condition leaves the expression out.
    (WHERE + 'Items.RATING IN ("G", "PG") IF CurrentUser.AGE < 18', None, {0, 2, 5, 7, 9}),
    (WHERE + 'Items.RATING IN ("G", "PG") IF CurrentUser.AGE >= 18', None, ALL),
    ('EXCLUDE ItemID WHERE Items.PRICE > 10 IF CurrentUser.MEMBERSHIP IN ("basic")', None, ALL),
    (
        'EXCLUDE ItemID WHERE Items.PRICE > 10 IF CurrentUser.membership = "gold" '
        "AND CurrentUser.AGE > 12",
        None,
        {0, 1, 4, 5, 7, 9},
    ),
    (
        'INCLUDE ItemID WHERE Items.RATING IN ("R") IF CurrentUser.AGE >= 18 | '
        'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")',
        None,
        {0, 2, 7},
    ),
    (WHERE + 'Items.RATING IN ("G") IF CurrentUser.AGE < $AGE', {"AGE": "18"}, {5, 9}),
    (
        'EXCLUDE ItemID WHERE Items.RATING = "R" '
        'IF CurrentUser.AGE > 65 OR CurrentUser.MEMBERSHIP = "gold"',
        None,
        ALL - {1, 3, 8},
    ),
    (
        'EXCLUDE ItemID WHERE Items.RATING = "R" IF CurrentUser.MEMBERSHIP NOT IN ("gold")',
        None,
        ALL,
    ),
    (WHERE + "Items.GENRES IN CurrentItem.GENRES IF CurrentUser.AGE < 18", None, {0, 2, 4, 7}),
    # Item ids are an Items field even without an ITEM_ID column; quoted numbers compare.
    (WHERE + 'Items.ITEM_ID IN ("i1", "i3")', None, {1, 3}),
    ("EXCLUDE ItemID WHERE Items.ITEM_ID IN ($IDS)", {"IDS": '"i0","i9"'}, ALL - {0, 9}),
    (WHERE + 'Items.PRICE < "10"', None, {0, 1, 5, 7, 9}),
    (WHERE + 'Interactions.EVENT_TYPE = "*"', None, {0, 2, 3, 5}),
    (
        'INCLUDE ItemID WHERE Items.RATING = "G" | INCLUDE ItemID WHERE Items.PRICE > 20 | '
        'EXCLUDE ItemID WHERE Items.IN_STOCK = "false"',
        None,
        {5, 9},
    ),
]


@pytest.mark.parametrize(("expression", "values", "expected"), CASES)
def test_filter_keeps_exactly_the_expected_items(context, expression, values, expected):
    mask = parse_filter(expression).item_mask(context, values)
    assert mask.dtype == bool
    assert mask.shape == (10,)
    assert kept(mask) == expected


def test_the_table_covers_at_least_forty_expressions_and_every_operator():
    assert len(CASES) >= 40
    texts = [expression for expression, _, _ in CASES]
    for operator in (" IN ", " NOT IN ", " = ", " != ", " < ", " <= ", " > ", " >= "):
        assert any(operator in text for text in texts), operator
    for feature in ("$", " | ", "CurrentItem.", " IF CurrentUser.", '"*"'):
        assert any(feature in text for text in texts), feature


def syntax(position, message):
    return "^" + re.escape(f"filter expression: at position {position}: {message}") + "$"


MALFORMED = [
    (
        'INCLUDE ItemID WHERE Items.GENRE WITH ("x")',
        syntax(34, "expected IN, NOT IN or a comparison operator after Items.GENRE, found 'WITH'"),
    ),
    (
        'INCLUDE ItemID Items.GENRES IN ("x")',
        syntax(16, "expected WHERE after ItemID, found 'Items.GENRES'"),
    ),
    (
        'KEEP ItemID WHERE Items.GENRES IN ("x")',
        syntax(1, "expected INCLUDE or EXCLUDE, found 'KEEP'"),
    ),
    (
        'INCLUDE ActionID WHERE Actions.CATEGORY IN ("x")',
        syntax(
            9, "ActionID filters are not supported; only ItemID and UserID filters can be created"
        ),
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRES IN ("x"',
        syntax(42, "expected , or ) in the value list, found end of expression"),
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRES IN ("x)',
        syntax(39, 'expected a closing " for this string, found end of expression'),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < (1, 2)",
        syntax(40, "expected one value after Items.PRICE <"),
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRES IN ("*")',
        syntax(39, '"*" (any event type) is only allowed with EVENT_TYPE'),
    ),
    (
        "INCLUDE ItemID WHERE Interactions.EVENT_TYPE > 3",
        syntax(46, "expected IN, NOT IN, = or != after Interactions.EVENT_TYPE, found '>'"),
    ),
    (
        "INCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3",
        syntax(
            22,
            "expected Interactions.EVENT_TYPE, the only Interactions field, "
            "found 'Interactions.EVENT_VALUE'",
        ),
    ),
    (
        'INCLUDE ItemID WHERE Items.PRICE < 3 AND Interactions.EVENT_TYPE IN ("click")',
        syntax(
            42,
            "Interactions.EVENT_TYPE cannot be combined with Items conditions in one "
            "expression; join them with |",
        ),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < 3 IF Items.AGE > 3",
        syntax(41, "expected a CurrentUser.FIELD condition in the IF clause, found 'Items.AGE'"),
    ),
    (
        "INCLUDE ItemID WHERE CurrentUser.AGE > 3",
        syntax(
            22,
            "expected Items.FIELD or Interactions.EVENT_TYPE (CurrentUser goes in IF), "
            "found 'CurrentUser.AGE'",
        ),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < 3 |",
        syntax(39, "expected INCLUDE or EXCLUDE, found end of expression"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < 3 IF CurrentUser.AGE > 3 IF CurrentUser.AGE < 9",
        syntax(61, "expected AND, OR, | or the end of the expression, found 'IF'"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < 3 Items.YEAR > 3",
        syntax(38, "expected AND, OR, IF, | or the end of the expression, found 'Items.YEAR'"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE <",
        syntax(35, "expected a value after Items.PRICE <, found end of expression"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE # 3",
        syntax(34, "expected a keyword, field, value or operator, found '#'"),
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRES NOT ("x")',
        syntax(39, "expected IN after NOT, found '('"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < CurrentUser.AGE",
        syntax(36, "expected a value after Items.PRICE <, found 'CurrentUser.AGE'"),
    ),
    (
        "EXCLUDE ItemID WHERE (Items.PRICE < 3",
        syntax(38, "expected ) to close the parenthesis, found end of expression"),
    ),
    (
        "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN CurrentItem.GENRES",
        syntax(49, "CurrentItem values can only be compared to Items fields"),
    ),
    (
        'INCLUDE ItemID WHERE Items.PRICE < "cheap"',
        syntax(36, "expected a number after Items.PRICE <, found 'cheap'"),
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE >= 3 IF CurrentUser.AGE >= true",
        syntax(61, "expected a number after CurrentUser.AGE >=, found 'true'"),
    ),
    ("", "^filter expression must be 1-2500 characters, got 0$"),
    ("INCLUDE ItemID WHERE Items.PRICE < 3" + " " * 2465, "got 2501$"),
]


@pytest.mark.parametrize(("expression", "message"), MALFORMED)
def test_malformed_expression_is_rejected_with_position_and_expectation(expression, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_filter(expression)


def test_syntax_errors_are_invalid_input_and_carry_the_position():
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("INCLUDE ItemID WHERE Items.GENRES WITH")
    assert caught.value.position == 35
    assert isinstance(caught.value, ValueError)


def test_more_than_ten_fields_are_rejected():
    conditions = " AND ".join(f"Items.F{index} = 1" for index in range(11))
    with pytest.raises(InvalidInputError, match="uses 11 distinct dataset fields; at most 10"):
        parse_filter(WHERE + conditions)


def test_placeholders_are_listed_in_order_without_duplicates():
    expression = parse_filter(
        "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES) AND Items.PRICE < $MAX "
        "| EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES) IF CurrentUser.AGE < $AGE"
    )
    assert expression.placeholders == ("GENRES", "MAX", "AGE")


@pytest.mark.parametrize(
    ("expression", "on_user", "on_item"),
    [
        (WHERE + "Items.PRICE < 3", False, False),
        (WHERE + 'Interactions.EVENT_TYPE IN ("*")', True, False),
        (WHERE + "Items.PRICE < 3 IF CurrentUser.AGE > 3", True, False),
        (WHERE + "Items.GENRES IN CurrentItem.GENRES", False, True),
    ],
)
def test_dependency_flags_say_what_a_cached_mask_depends_on(expression, on_user, on_item):
    parsed = parse_filter(expression)
    assert (parsed.depends_on_user, parsed.depends_on_current_item) == (on_user, on_item)


def test_cache_key_holds_the_values_of_the_filters_placeholders_only():
    expression = parse_filter(WHERE + "Items.GENRES IN ($GENRES)")
    key = expression.cache_key({"GENRES": '"Drama"', "OTHER": "1"})
    assert key == (expression.text, '"Drama"')
    assert key != expression.cache_key({"GENRES": '"Comedy"'})


def test_validate_names_every_field_the_dataset_group_lacks():
    expression = parse_filter(
        'INCLUDE ItemID WHERE Items.COLOUR IN ("red") AND Items.GENRES IN CurrentItem.SIZE '
        "IF CurrentUser.AGE > 3"
    )
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "filter expression uses fields that do not exist: "
            "Items.COLOUR, Items.SIZE (Items has GENRES, ITEM_ID), "
            "CurrentUser.AGE (no Users dataset)"
        ),
    ):
        expression.validate({"items": {"ITEM_ID", "GENRES"}})


def test_validate_accepts_fields_in_any_case():
    expression = parse_filter(
        'INCLUDE ItemID WHERE Items.genres IN ("x") | '
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*") IF CurrentUser.Age > 3'
    )
    expression.validate(
        {"ITEMS": {"GENRES"}, "USERS": {"AGE"}, "INTERACTIONS": {"USER_ID", "EVENT_TYPE"}}
    )


def test_validate_refuses_textual_fields_and_ordering_on_other_kinds_with_positions():
    expression = parse_filter(
        'INCLUDE ItemID WHERE Items.DESCRIPTION IN ("x") AND Items.GENRES < 3 '
        "AND Items.PRICE > CurrentItem.IN_STOCK"
    )
    kinds = {"DESCRIPTION": "textual", "GENRES": "categorical", "PRICE": "numeric"}
    message = (
        "filter expression: at position 22: Items.DESCRIPTION is a textual field; filters on "
        "textual fields are not supported; at position 53: Items.GENRES is a categorical "
        "field; < needs a numeric field; at position 74: CurrentItem.IN_STOCK is a boolean "
        "field; > needs a numeric field"
    )
    with pytest.raises(InvalidInputError, match="^" + re.escape(message) + "$"):
        expression.validate({"ITEMS": kinds | {"IN_STOCK": "boolean"}})


def test_validate_accepts_item_ids_without_an_items_dataset():
    parse_filter('EXCLUDE ItemID WHERE Items.ITEM_ID IN ("a")').validate({"INTERACTIONS": {}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({f"V{n}": "1" for n in range(26)}, "26 filter values were given; at most 25 are allowed"),
        ({"$GENRES": '"x"'}, r"filter value name '\$GENRES' is not valid: use the placeholder's"),
        ({"GENRE": '"x"'}, r"filter value for \$GENRE matches no placeholder of the filter "),
        ({"GENRES": ["x"]}, r"filter value for \$GENRES must be a string"),
        (["GENRES"], "filter values must be a mapping of placeholder to value"),
    ],
)
def test_bad_filter_values_are_refused_with_the_entry_named(context, values, message):
    expression = parse_filter("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    with pytest.raises(InvalidInputError, match=message):
        expression.item_mask(context, values)


def test_missing_include_placeholder_is_named(context):
    expression = parse_filter(WHERE + "Items.GENRES IN ($GENRES)")
    with pytest.raises(InvalidInputError, match=r"^filter value for \$GENRES is missing; "):
        expression.item_mask(context, {})


def test_unquoted_string_value_is_rejected_with_its_position(context):
    expression = parse_filter(WHERE + "Items.GENRES IN ($GENRES)")
    message = "filter value for $GENRES: at position 1: expected a quoted string or a number"
    with pytest.raises(FilterSyntaxError, match=re.escape(message)):
        expression.item_mask(context, {"GENRES": "Action,Comedy"})


def test_too_long_value_is_rejected(context):
    expression = parse_filter(WHERE + "Items.GENRES IN ($GENRES)")
    with pytest.raises(InvalidInputError, match=r"has 1002 characters; at most 1000"):
        expression.item_mask(context, {"GENRES": '"' + "x" * 1000 + '"'})


def test_ordering_on_a_categorical_field_is_refused(context):
    expression = parse_filter(WHERE + "Items.GENRES < 3")
    message = "at position 22: Items.GENRES holds categorical values; < needs a numeric field"
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        expression.item_mask(context)


def test_ordering_against_a_word_is_refused(context):
    expression = parse_filter(WHERE + "Items.PRICE < $MAX")
    with pytest.raises(InvalidInputError, match=re.escape("Items.PRICE < needs a number")):
        expression.item_mask(context, {"MAX": '"cheap"'})


def test_current_item_without_an_item_is_refused(context):
    expression = parse_filter(WHERE + "Items.GENRES IN CurrentItem.GENRES")
    with pytest.raises(InvalidInputError, match="needs the request's item"):
        expression.item_mask(context.for_request(users=USER))


def test_unknown_field_at_evaluation_is_named(context):
    expression = parse_filter(WHERE + 'Items.COLOUR IN ("red")')
    with pytest.raises(InvalidInputError, match="the filter uses Items.COLOUR, a field that"):
        expression.item_mask(context)


def test_unknown_user_fails_if_conditions_and_has_no_interactions(context):
    anonymous = context.for_request()
    kids_only = parse_filter(WHERE + 'Items.RATING IN ("G") IF CurrentUser.AGE < 18')
    seen = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
    assert kept(kids_only.item_mask(anonymous)) == ALL
    assert kept(seen.item_mask(anonymous)) == ALL


def test_parse_values_reads_escaped_quotes_and_numbers():
    values = parse_values(r'"say \"hi\"", 3.5, "a\\b"', "X")
    assert [(value.text, value.number) for value in values] == [
        ('say "hi"', None),
        ("3.5", 3.5),
        ("a\\b", None),
    ]


def test_parse_values_rejects_a_trailing_comma():
    with pytest.raises(FilterSyntaxError, match=r"^filter value for \$X: at position 5: "):
        parse_values('"a",', "X")


def test_items_and_users_tables_align_to_the_catalogue():
    items = pa.table({"item_id": ["i2", "i0", "zz"], "PRICE": [2.0, 1.0, 9.0]})
    users = pa.table({"USER_ID": ["u1", "u2", "u1"], "AGE": [30, 40, 31]})
    assert columns_from_table(items, np.array(["i0", "i1", "i2"])) == {"PRICE": [1.0, None, 2.0]}
    assert row_from_table(users, "u1") == {"AGE": 31}
    assert row_from_table(users, "nobody") is None


def test_contexts_for_requests_share_the_normalized_columns(context):
    base = FilterContext(ITEM_IDS, ITEMS)
    parse_filter(WHERE + "Items.PRICE < 3").item_mask(base)
    derived = base.for_request(users=USER)
    assert derived.item_column("price", "Items.price") is base.item_column("PRICE", "x")


# Property tests: random catalogues, random conditions with a reference predicate.

GENRES = ["a", "b", "c", "d"]


@st.composite
def catalogues(draw):
    size = draw(st.integers(1, 12))
    genres = draw(
        st.lists(
            st.one_of(st.none(), st.lists(st.sampled_from(GENRES), min_size=1, max_size=3)),
            min_size=size,
            max_size=size,
        )
    )
    prices = draw(
        st.lists(
            st.one_of(st.just(math.nan), st.integers(0, 5).map(float)),
            min_size=size,
            max_size=size,
        )
    )
    return genres, prices


def _genre_condition(draw):
    chosen = draw(st.lists(st.sampled_from(GENRES), min_size=1, max_size=3))
    negated = draw(st.booleans())
    listed = ", ".join(f'"{genre}"' for genre in chosen)
    text = f"Items.GENRES {'NOT IN' if negated else 'IN'} ({listed})"

    def holds(genres, price):
        hit = genres is not None and bool(set(genres) & set(chosen))
        return hit != negated

    return text, holds


def _price_condition(draw):
    operator = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
    bound = draw(st.integers(0, 5))
    compare = {
        "<": lambda x: x < bound,
        "<=": lambda x: x <= bound,
        ">": lambda x: x > bound,
        ">=": lambda x: x >= bound,
        "=": lambda x: x == bound,
        "!=": lambda x: x != bound,
    }[operator]
    return f"Items.PRICE {operator} {bound}", lambda genres, price: compare(price)


@st.composite
def conditions(draw):
    parts = [
        draw(st.sampled_from([_genre_condition, _price_condition]))(draw)
        for _ in range(draw(st.integers(1, 3)))
    ]
    joiners = [draw(st.sampled_from(["AND", "OR"])) for _ in parts[1:]]
    text = parts[0][0] + "".join(f" {j} {p[0]}" for j, p in zip(joiners, parts[1:], strict=True))

    def holds(genres, price):
        # AND binds tighter than OR: OR over runs of AND.
        groups, current = [], [parts[0][1](genres, price)]
        for joiner, (_, predicate) in zip(joiners, parts[1:], strict=True):
            if joiner == "OR":
                groups.append(all(current))
                current = []
            current.append(predicate(genres, price))
        return any([*groups, all(current)])

    return text, holds


def _context(catalogue):
    genres, prices = catalogue
    joined = [None if value is None else "|".join(value) for value in genres]
    items = {"GENRES": np.array(joined, dtype=object), "PRICE": np.array(prices)}
    return FilterContext(np.array([f"i{i}" for i in range(len(prices))]), items)


@settings(max_examples=150, deadline=None)
@given(catalogues(), conditions())
def test_no_excluded_item_is_ever_let_through(catalogue, condition):
    text, holds = condition
    mask = parse_filter(f"EXCLUDE ItemID WHERE {text}").item_mask(_context(catalogue))
    expected = [not holds(genres, price) for genres, price in zip(*catalogue, strict=True)]
    assert mask.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(
    catalogues(),
    st.tuples(st.sampled_from(["INCLUDE", "EXCLUDE"]), conditions()),
    st.tuples(st.sampled_from(["INCLUDE", "EXCLUDE"]), conditions()),
)
def test_union_of_expressions_is_the_set_algebra_of_each(catalogue, first, second):
    context = _context(catalogue)
    terms = [f"{action} ItemID WHERE {text}" for action, (text, _) in (first, second)]

    matches, includes, excludes = [], [], []
    for (action, _), term in zip((first, second), terms, strict=True):
        alone = parse_filter(term).item_mask(context)
        match = alone if action == "INCLUDE" else ~alone
        (includes if action == "INCLUDE" else excludes).append(match)
        matches.append(match)

    expected = np.logical_or.reduce(includes) if includes else np.ones(len(catalogue[1]), bool)
    if excludes:
        expected &= ~np.logical_or.reduce(excludes)
    combined = parse_filter(" | ".join(terms)).item_mask(context)
    assert combined.tolist() == expected.tolist()
