"""User-segment (UserID) filters: parsing, evaluation as user masks and what they refuse."""

import re

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.filters import FilterContext, SegmentContext, parse_filter

USER_IDS = np.array([f"u{index}" for index in range(8)])
USERS = {
    "AGE": [12, 17, 18, 25, 40, None, 65, 30],
    "MEMBERSHIP": ["gold", "basic", "gold|family", None, "basic|family", "silver", "gold", "basic"],
    "VIP": [True, False, True, False, None, True, False, False],
}
# u0 clicked; u1 clicked and watched; u2 rated; u3 watched; u4 did nothing; u5 "Click"ed;
# u6 watched and rated; u7 did nothing.
EVENT_NAMES = np.array(["click", "rating", "watch", "Click"], dtype=object)
EVENT_ROWS = np.array([0, 1, 1, 2, 3, 5, 6, 6])
EVENT_CODES = np.array([0, 0, 2, 1, 2, 3, 2, 1])
ALL = set(range(8))


@pytest.fixture(scope="module")
def context():
    return SegmentContext(USER_IDS, USERS, (EVENT_ROWS, EVENT_CODES, EVENT_NAMES))


def kept(mask):
    return {int(index) for index in np.flatnonzero(mask)}


WHERE = "INCLUDE UserID WHERE "
CASES = [
    # The service's documented examples.
    (WHERE + "Users.MEMBERSHIP IN ($MEMBERSHIP)", {"MEMBERSHIP": '"gold"'}, {0, 2, 6}),
    ("EXCLUDE UserID WHERE Users.AGE < $AGE", {"AGE": "18"}, ALL - {0, 1}),
    (WHERE + 'Interactions.EVENT_TYPE IN ("click", "rating")', None, {0, 1, 2, 5, 6}),
    (
        "EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
        {"EVENT_TYPE": '"watch"'},
        ALL - {1, 3, 6},
    ),
    # Placeholders: several values; an EXCLUDE expression without values is not applied.
    (WHERE + "Users.MEMBERSHIP IN ($MEMBERSHIP)", {"MEMBERSHIP": '"gold","family"'}, {0, 2, 4, 6}),
    ("EXCLUDE UserID WHERE Users.AGE < $AGE", None, ALL),
    # Interactions: any type, and NOT IN (users with an interaction of another type).
    (WHERE + 'Interactions.EVENT_TYPE IN ("*")', None, {0, 1, 2, 3, 5, 6}),
    (WHERE + 'Interactions.EVENT_TYPE NOT IN ("watch")', None, {0, 1, 2, 5, 6}),
    (WHERE + 'Interactions.EVENT_TYPE = "CLICK"', None, {0, 1, 5}),
    # Numbers: a missing age matches no comparison.
    (WHERE + "Users.AGE >= 18 AND Users.AGE <= 40", None, {2, 3, 4, 7}),
    (WHERE + "Users.AGE > 17", None, {2, 3, 4, 6, 7}),
    (WHERE + "Users.AGE IN (12, 30)", None, {0, 7}),
    (WHERE + "Users.AGE != 25", None, ALL - {3}),
    # Multi-valued categorical field; a user without a value matches only != and NOT IN.
    (WHERE + 'Users.MEMBERSHIP = "family"', None, {2, 4}),
    (WHERE + 'Users.MEMBERSHIP != "gold"', None, {1, 3, 4, 5, 7}),
    (WHERE + 'Users.MEMBERSHIP NOT IN ("gold", "basic")', None, {3, 5}),
    # Boolean field, and the users' ids.
    (WHERE + "Users.VIP = true", None, {0, 2, 5}),
    (WHERE + 'Users.VIP IN ("False")', None, {1, 3, 6, 7}),
    (WHERE + 'Users.USER_ID IN ("u3", "u7", "nobody")', None, {3, 7}),
    # OR, AND and parentheses; keywords in any case.
    (WHERE + 'Users.AGE > 60 OR Users.MEMBERSHIP = "silver"', None, {5, 6}),
    (WHERE + '(Users.AGE < 18 OR Users.AGE > 60) AND Users.MEMBERSHIP IN ("gold")', None, {0, 6}),
    ('include userid where users.membership in ("basic")', None, {1, 4, 7}),
    # | : the union of the INCLUDEs minus the union of the EXCLUDEs.
    (
        WHERE + 'Users.AGE < 18 | INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("watch")',
        None,
        {0, 1, 3, 6},
    ),
    (WHERE + 'Users.MEMBERSHIP IN ("gold") | EXCLUDE UserID WHERE Users.AGE > 60', None, {0, 2}),
    (
        "EXCLUDE UserID WHERE Users.VIP = true"
        ' | EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click")',
        None,
        {3, 4, 6, 7},
    ),
]


@pytest.mark.parametrize(("expression", "values", "expected"), CASES)
def test_segment_filter_keeps_exactly_the_expected_users(context, expression, values, expected):
    assert kept(parse_filter(expression).user_mask(context, values)) == expected


def test_the_table_covers_every_operator_family():
    texts = " ".join(expression for expression, _, _ in CASES)
    for feature in (" IN ", " NOT IN ", " = ", " != ", " < ", " <= ", " > ", " >= ", "$", "|"):
        assert feature in texts, feature
    assert len(CASES) >= 12


def syntax(position, message):
    return "^" + re.escape(f"filter expression: at position {position}: {message}") + "$"


REFUSED = [
    (
        'INCLUDE UserID WHERE Items.GENRES IN ("x")',
        syntax(
            22,
            "expected Users.FIELD or Interactions.EVENT_TYPE in a UserID filter, "
            "found 'Items.GENRES'",
        ),
    ),
    (
        "INCLUDE UserID WHERE CurrentUser.AGE > 3",
        syntax(
            22,
            "expected Users.FIELD or Interactions.EVENT_TYPE in a UserID filter, "
            "found 'CurrentUser.AGE'",
        ),
    ),
    (
        "INCLUDE UserID WHERE Users.AGE < 3 IF CurrentUser.AGE > 3",
        syntax(
            36,
            "expected AND, OR, | or the end of the expression (a UserID filter has no IF "
            "clause), found 'IF'",
        ),
    ),
    (
        "INCLUDE UserID WHERE Users.AGE < CurrentItem.PRICE",
        syntax(
            34,
            "expected a value after Users.AGE < (a UserID filter has no current item), "
            "found 'CurrentItem.PRICE'",
        ),
    ),
    (
        'INCLUDE UserID WHERE Users.AGE < 3 | EXCLUDE ItemID WHERE Items.GENRES IN ("x")',
        syntax(46, "ItemID expressions cannot be joined with UserID expressions in one filter"),
    ),
    (
        'INCLUDE UserID WHERE Users.AGE < 3 AND Interactions.EVENT_TYPE IN ("click")',
        syntax(
            40,
            "Interactions.EVENT_TYPE cannot be combined with Users conditions in one "
            "expression; join them with |",
        ),
    ),
    (
        'INCLUDE UserID WHERE Users.MEMBERSHIP IN ("*")',
        syntax(43, '"*" (any event type) is only allowed with EVENT_TYPE'),
    ),
    ("INCLUDE UserID Users.AGE > 3", syntax(16, "expected WHERE after UserID, found 'Users.AGE'")),
    (
        "INCLUDE UserID WHERE Users.AGE < 3 Users.AGE > 1",
        syntax(36, "expected AND, OR, | or the end of the expression, found 'Users.AGE'"),
    ),
    (
        "INCLUDE Users WHERE Users.AGE < 3",
        syntax(9, "expected ItemID or UserID after INCLUDE, found 'Users'"),
    ),
]


@pytest.mark.parametrize(("expression", "message"), REFUSED)
def test_malformed_or_refused_segment_filter_is_named_with_its_position(expression, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_filter(expression)


def test_the_target_is_on_the_expression_and_a_mask_of_the_other_kind_is_refused(context):
    users = parse_filter("EXCLUDE UserID WHERE Users.AGE < 18")
    items = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ("x")')
    assert (users.target, items.target) == ("UserID", "ItemID")

    catalogue = FilterContext(np.array(["i0"]), {"GENRES": ["x"]})
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "filter expression 'EXCLUDE UserID WHERE Users.AGE < 18' is a UserID filter; it "
            "selects users, not items (use user_mask)"
        ),
    ):
        users.item_mask(catalogue)
    with pytest.raises(InvalidInputError, match=r"is an? ItemID filter; it selects items, not"):
        items.user_mask(context)


def test_a_segment_filter_depends_on_no_requesting_user():
    expression = parse_filter('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click")')
    assert not expression.depends_on_user
    assert expression.fields == {"INTERACTIONS": {"EVENT_TYPE"}}


def test_validate_names_missing_users_fields_and_accepts_user_ids_without_users():
    expression = parse_filter('INCLUDE UserID WHERE Users.COLOUR IN ("x") AND Users.AGE > 3')
    with pytest.raises(
        InvalidInputError,
        match=r"^filter expression uses fields that do not exist: Users.COLOUR \(Users has AGE, "
        r"USER_ID\)$",
    ):
        expression.validate({"USERS": {"USER_ID": "categorical", "AGE": "numeric"}})
    with pytest.raises(InvalidInputError, match=r"Users.AGE, Users.COLOUR \(no Users dataset\)$"):
        expression.validate({"INTERACTIONS": {"EVENT_TYPE"}})
    parse_filter('INCLUDE UserID WHERE Users.USER_ID IN ("u1")').validate({"INTERACTIONS": {}})


def test_validate_refuses_ordering_on_a_categorical_users_field():
    expression = parse_filter("INCLUDE UserID WHERE Users.MEMBERSHIP > 3")
    with pytest.raises(
        InvalidInputError,
        match=r"^filter expression: at position 22: Users.MEMBERSHIP is a categorical field; "
        r"> needs a numeric field$",
    ):
        expression.validate({"USERS": {"MEMBERSHIP": "categorical"}})


def test_bad_values_and_unknown_fields_are_named_at_evaluation(context):
    expression = parse_filter("INCLUDE UserID WHERE Users.MEMBERSHIP IN ($MEMBERSHIP)")
    with pytest.raises(InvalidInputError, match=r"^filter value for \$MEMBERSHIP is missing"):
        expression.user_mask(context)
    with pytest.raises(
        InvalidInputError,
        match=r"^filter value for \$MEMBERSHIP: at position 1: expected a quoted string or a "
        r"number, found 'gold'$",
    ):
        expression.user_mask(context, {"MEMBERSHIP": "gold"})
    with pytest.raises(
        InvalidInputError,
        match=r"^the filter uses Users.TIER, a field that does not exist \(AGE, MEMBERSHIP, VIP\)$",
    ):
        parse_filter('INCLUDE UserID WHERE Users.TIER IN ("x")').user_mask(context)


def test_users_without_events_fail_every_interactions_condition():
    nobody = SegmentContext(USER_IDS, USERS)
    for operator in ("IN", "NOT IN"):
        expression = parse_filter(f'INCLUDE UserID WHERE Interactions.EVENT_TYPE {operator} ("*")')
        assert kept(expression.user_mask(nobody)) == set()
