"""Tokenizer, syntax tree and recursive-descent parser of filter expressions.

The grammar, with keywords matched case-insensitively::

    filter     := term ( "|" term )*                 every term has the same target
    term       := ( INCLUDE | EXCLUDE ) ItemID WHERE or_cond [ IF or_cond ]
                | ( INCLUDE | EXCLUDE ) UserID WHERE or_cond
    or_cond    := and_cond ( OR and_cond )*          AND binds tighter than OR
    and_cond   := primary ( AND primary )*
    primary    := "(" or_cond ")" | condition
    condition  := field ( IN | NOT IN | = | != | < | <= | > | >= ) operand
    field      := Items.NAME | Interactions.EVENT_TYPE      (after WHERE, ItemID)
                | Users.NAME | Interactions.EVENT_TYPE      (after WHERE, UserID)
                | CurrentUser.NAME                          (after IF)
    operand    := value | "(" value ( "," value )* ")"
    value      := "string" | number | true | false | $NAME
                | CurrentItem.NAME                          (ItemID only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from engine.errors import InvalidInputError

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "Condition",
    "CurrentItemField",
    "FilterSyntaxError",
    "FilterTerm",
    "Junction",
    "Node",
    "Placeholder",
    "Target",
    "Value",
    "parse_terms",
    "parse_values",
]

MAX_EXPRESSION_LENGTH = 2500
MAX_FIELDS = 10
ORDERING = ("<", "<=", ">", ">=")
EQUALITY = ("IN", "NOT IN", "=", "!=")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<placeholder>\$[A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<operator><=|>=|!=|=|<|>)
  | (?P<punctuation>[(),|])
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")

Dataset = Literal["Items", "Interactions", "Users", "CurrentUser"]
Target = Literal["ItemID", "UserID"]
# The dataset whose fields a WHERE clause names, per target: the rows the filter selects.
ROW_DATASETS: dict[Target, Dataset] = {"ItemID": "Items", "UserID": "Users"}


class FilterSyntaxError(InvalidInputError):
    """A filter expression or a filter value is malformed.

    ``position`` is the 1-based character position of the problem and ``expected`` what the
    parser expected there.
    """

    def __init__(self, source: str, position: int, message: str) -> None:
        self.source = source
        self.position = position
        super().__init__(f"{source}: at position {position}: {message}")


@dataclass(frozen=True)
class Token:
    """One token: its kind, its text as written and its 1-based position."""

    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def shown(self) -> str:
        return "end of expression" if self.kind == "end" else repr(self.text)


@dataclass(frozen=True)
class Value:
    """A literal: its text (unquoted) and, when it reads as one, its number."""

    text: str
    number: float | None
    position: int
    any_event: bool = False


@dataclass(frozen=True)
class Placeholder:
    """``$NAME``: values supplied with the request."""

    name: str
    position: int


@dataclass(frozen=True)
class CurrentItemField:
    """``CurrentItem.NAME``: the values of the request's item (related-items requests)."""

    field: str
    position: int


Operand = Value | Placeholder | CurrentItemField


@dataclass(frozen=True)
class Condition:
    """``dataset.field operator operand``; ``field`` is as written, matched case-insensitively.

    ``dataset`` is ``CurrentUser`` for the conditions of an ``IF`` clause.
    """

    dataset: Dataset
    field: str
    operator: str
    operands: tuple[Operand, ...]
    position: int

    @property
    def label(self) -> str:
        """The field as a filter names it: ``Items.GENRES``, ``Users.AGE``, ``CurrentUser.AGE``."""
        return f"{self.dataset}.{self.field}"


@dataclass(frozen=True)
class Junction:
    """Conditions joined by ``AND`` or by ``OR``."""

    operator: Literal["AND", "OR"]
    children: tuple[Node, ...]


Node = Condition | Junction


@dataclass(frozen=True)
class FilterTerm:
    """One ``INCLUDE``/``EXCLUDE`` expression between ``|`` separators.

    ``target`` says what it selects: items (``ItemID``) or users (``UserID``).
    """

    action: Literal["INCLUDE", "EXCLUDE"]
    where: Node
    condition: Node | None
    position: int
    target: Target = "ItemID"


def tokenize(text: str, source: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token.

    Raises
    ------
    FilterSyntaxError
        A character no token starts with, or an unterminated string.
    """
    tokens: list[Token] = []
    offset = 0
    while offset < len(text):
        match = _TOKEN.match(text, offset)
        if match is None:
            raise _bad_character(text, offset, source)
        if match.lastgroup != "space":
            tokens.append(Token(str(match.lastgroup), match.group(), offset + 1))
        offset = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _bad_character(text: str, offset: int, source: str) -> FilterSyntaxError:
    if text[offset] == '"':
        return FilterSyntaxError(
            source, offset + 1, 'expected a closing " for this string, found end of expression'
        )
    return FilterSyntaxError(
        source,
        offset + 1,
        f"expected a keyword, field, value or operator, found {text[offset]!r}",
    )


def _literal(token: Token) -> Value:
    if token.kind == "string":
        text = _ESCAPE.sub(r"\1", token.text[1:-1])
        return Value(text, _as_number(text), token.position, any_event=text == "*")
    if token.kind == "number":
        return Value(token.text, float(token.text), token.position)
    return Value(token.text.lower(), None, token.position)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Parser:
    """Recursive descent over a token list; one method per grammar rule."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens = tokenize(text, source)
        self.index = 0
        self.first_target: Target | None = None
        self.term_target: Target = "ItemID"

    # Token access.

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.token.kind in ("word", "punctuation") and self.token.upper in words:
            self.index += 1
            return True
        return False

    def fail(self, expected: str, token: Token | None = None) -> FilterSyntaxError:
        token = token or self.token
        return FilterSyntaxError(self.source, token.position, f"{expected}, found {token.shown()}")

    def expect(self, word: str, expected: str) -> None:
        if not self.accept(word):
            raise self.fail(expected)

    # Grammar rules.

    def filter(self) -> tuple[FilterTerm, ...]:
        terms = [self.term()]
        while self.accept("|"):
            terms.append(self.term())
        if self.token.kind != "end":
            closed = terms[-1].condition is not None or terms[-1].target == "UserID"
            allowed = "AND, OR" if closed else "AND, OR, IF"
            raise self.fail(f"expected {allowed}, | or the end of the expression")
        return tuple(terms)

    def term(self) -> FilterTerm:
        start = self.token
        if not self.accept("INCLUDE", "EXCLUDE"):
            raise self.fail("expected INCLUDE or EXCLUDE")
        action: Literal["INCLUDE", "EXCLUDE"] = "INCLUDE" if start.upper == "INCLUDE" else "EXCLUDE"
        self.term_target = self.target(action)
        self.expect("WHERE", f"expected WHERE after {self.term_target}")
        where = self.disjunction("where")
        _check_one_dataset(where, self.source)
        condition = self.if_clause()
        return FilterTerm(action, where, condition, start.position, self.term_target)

    def target(self, action: str) -> Target:
        """``ItemID`` or ``UserID``, the same for every term of the filter."""
        token = self.token
        if token.upper == "ACTIONID":
            raise FilterSyntaxError(
                self.source,
                token.position,
                f"{token.text} filters are not supported; only ItemID and UserID filters can be "
                "created",
            )
        if not self.accept("ITEMID", "USERID"):
            raise self.fail(f"expected ItemID or UserID after {action}")
        target: Target = "ItemID" if token.upper == "ITEMID" else "UserID"
        if self.first_target is None:
            self.first_target = target
        elif target != self.first_target:
            raise FilterSyntaxError(
                self.source,
                token.position,
                f"{target} expressions cannot be joined with {self.first_target} expressions "
                "in one filter",
            )
        return target

    def if_clause(self) -> Node | None:
        token = self.token
        if not self.accept("IF"):
            return None
        if self.term_target == "UserID":
            raise self.fail(
                "expected AND, OR, | or the end of the expression (a UserID filter has no IF "
                "clause)",
                token,
            )
        return self.disjunction("if")

    def disjunction(self, clause: str) -> Node:
        children = [self.conjunction(clause)]
        while self.accept("OR"):
            children.append(self.conjunction(clause))
        return children[0] if len(children) == 1 else Junction("OR", tuple(children))

    def conjunction(self, clause: str) -> Node:
        children = [self.primary(clause)]
        while self.accept("AND"):
            children.append(self.primary(clause))
        return children[0] if len(children) == 1 else Junction("AND", tuple(children))

    def primary(self, clause: str) -> Node:
        if self.accept("("):
            node = self.disjunction(clause)
            self.expect(")", "expected ) to close the parenthesis")
            return node
        return self.condition(clause)

    def condition(self, clause: str) -> Condition:
        field_token = self.token
        dataset, field = self.field(clause)
        label = f"{dataset}.{field}"
        operator = self.operator(label, dataset)
        operands = self.operands(operator, label)
        condition = Condition(dataset, field, operator, operands, field_token.position)
        _check_operands(condition, self.source)
        return condition

    def field(self, clause: str) -> tuple[Dataset, str]:
        token = self.token
        parts = token.text.split(".") if token.kind == "word" else []
        if clause == "if":
            if len(parts) == 2 and parts[0].upper() == "CURRENTUSER":
                self.advance()
                return "CurrentUser", parts[1]
            raise self.fail("expected a CurrentUser.FIELD condition in the IF clause")

        dataset = parts[0].upper() if len(parts) == 2 else ""
        rows = ROW_DATASETS[self.term_target]
        if dataset == rows.upper():
            self.advance()
            return rows, parts[1]
        if dataset == "INTERACTIONS":
            if parts[1].upper() != "EVENT_TYPE":
                raise self.fail("expected Interactions.EVENT_TYPE, the only Interactions field")
            self.advance()
            return "Interactions", parts[1]
        if self.term_target == "UserID":
            raise self.fail("expected Users.FIELD or Interactions.EVENT_TYPE in a UserID filter")
        if dataset in ("CURRENTUSER", "USERS"):
            raise self.fail(
                "expected Items.FIELD or Interactions.EVENT_TYPE (CurrentUser goes in IF)"
            )
        raise self.fail("expected Items.FIELD or Interactions.EVENT_TYPE")

    def operator(self, label: str, dataset: Dataset) -> str:
        token = self.token
        if self.accept("IN"):
            return "IN"
        if self.accept("NOT"):
            self.expect("IN", "expected IN after NOT")
            return "NOT IN"
        if token.kind == "operator" and (dataset != "Interactions" or token.text in EQUALITY):
            return self.advance().text
        if dataset == "Interactions":
            raise self.fail(f"expected IN, NOT IN, = or != after {label}")
        raise self.fail(f"expected IN, NOT IN or a comparison operator after {label}")

    def operands(self, operator: str, label: str) -> tuple[Operand, ...]:
        if not self.accept("("):
            return (self.value(operator, label),)
        values = [self.value(operator, label)]
        while self.accept(","):
            values.append(self.value(operator, label))
        self.expect(")", "expected , or ) in the value list")
        return tuple(values)

    def value(self, operator: str, label: str) -> Operand:
        token = self.token
        if token.kind in ("string", "number") or token.upper in ("TRUE", "FALSE"):
            return _literal(self.advance())
        if token.kind == "placeholder":
            return Placeholder(self.advance().text[1:], token.position)
        parts = token.text.split(".")
        if token.kind == "word" and len(parts) == 2 and parts[0].upper() == "CURRENTITEM":
            if self.term_target == "UserID":
                raise self.fail(
                    f"expected a value after {label} {operator} (a UserID filter has no "
                    "current item)"
                )
            return CurrentItemField(self.advance().text.split(".")[1], token.position)
        raise self.fail(f"expected a value after {label} {operator}")


def _check_operands(condition: Condition, source: str) -> None:
    """Refuse what the service refuses: ``*`` off EVENT_TYPE, ``<`` on several values or a word."""
    for operand in condition.operands:
        if isinstance(operand, Value) and operand.any_event and condition.dataset != "Interactions":
            raise FilterSyntaxError(
                source, operand.position, '"*" (any event type) is only allowed with EVENT_TYPE'
            )
        if isinstance(operand, CurrentItemField) and condition.dataset != "Items":
            raise FilterSyntaxError(
                source, operand.position, "CurrentItem values can only be compared to Items fields"
            )
    if condition.operator not in ORDERING:
        return
    if len(condition.operands) != 1:
        raise FilterSyntaxError(
            source,
            condition.operands[1].position,
            f"expected one value after {condition.label} {condition.operator}",
        )
    operand = condition.operands[0]
    if isinstance(operand, Value) and operand.number is None:
        raise FilterSyntaxError(
            source,
            operand.position,
            f"expected a number after {condition.label} {condition.operator}, "
            f"found {operand.text!r}",
        )


def _check_one_dataset(node: Node, source: str) -> None:
    """The service lets one expression's conditions name one dataset; mix them with ``|``."""
    conditions = list(iter_conditions(node))
    first = conditions[0].dataset
    for condition in conditions[1:]:
        if condition.dataset != first:
            raise FilterSyntaxError(
                source,
                condition.position,
                f"{condition.label} cannot be combined with {first} conditions in one "
                "expression; join them with |",
            )


def iter_conditions(node: Node | None) -> list[Condition]:
    """The conditions of ``node``, left to right."""
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node]
    return [condition for child in node.children for condition in iter_conditions(child)]


def parse_terms(text: str) -> tuple[FilterTerm, ...]:
    """Parse a whole filter expression into its ``|``-separated terms.

    Raises
    ------
    FilterSyntaxError
        The expression is malformed; the message names the position and what was expected.
    InvalidInputError
        The expression is empty, longer than 2500 characters or names too many fields.
    """
    source = "filter expression"
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_EXPRESSION_LENGTH:
        size = len(text) if isinstance(text, str) else type(text).__name__
        raise InvalidInputError(
            f"{source} must be 1-{MAX_EXPRESSION_LENGTH} characters, got {size}"
        )
    terms = _Parser(text, source).filter()
    _check_field_count(terms)
    return terms


def _check_field_count(terms: tuple[FilterTerm, ...]) -> None:
    fields = {
        condition.label.upper()
        for term in terms
        for condition in iter_conditions(term.where) + iter_conditions(term.condition)
    }
    if len(fields) > MAX_FIELDS:
        raise InvalidInputError(
            f"filter expression uses {len(fields)} distinct dataset fields; "
            f"at most {MAX_FIELDS} are allowed"
        )


def parse_values(text: str, name: str) -> tuple[Value, ...]:
    """Read a placeholder's value as the service passes it: ``"\\"a\\",\\"b\\""`` or ``"9.5"``.

    Each value is a double-quoted string (``\\"`` and ``\\\\`` escaped inside) or a bare
    number, separated by commas.

    Raises
    ------
    FilterSyntaxError
        The value is not a comma-separated list of quoted strings and numbers.

    Examples
    --------
    >>> [value.text for value in parse_values('"Action","Comedy"', "GENRES")]
    ['Action', 'Comedy']
    """
    source = f"filter value for ${name}"
    tokens = tokenize(text, source)
    values: list[Value] = []
    for index, token in enumerate(tokens[:-1]):
        wanted_comma = index % 2 == 1
        if wanted_comma and token.text != ",":
            raise FilterSyntaxError(source, token.position, f"expected , found {token.shown()}")
        if not wanted_comma:
            values.append(_value_token(token, source))
    if values and len(tokens) % 2 == 1:
        raise FilterSyntaxError(source, tokens[-1].position, "expected a value after ,")
    return tuple(values)


def _value_token(token: Token, source: str) -> Value:
    if token.kind in ("string", "number") or token.upper in ("TRUE", "FALSE"):
        return _literal(token)
    raise FilterSyntaxError(
        source,
        token.position,
        f"expected a quoted string or a number, found {token.shown()}",
    )
