"""The audience condition language: a small, safe boolean language over a dict context.

An item's ``targeting.audience`` is a condition such as::

    device.type == "mobile" and source.medium in ["search", "email"]
        and profile.lifecycle != "lapsed" and affinity("hiking") > 0.3

It is tokenised and parsed (recursive descent) into an AST once, by :func:`compile_expression`,
and evaluated by walking that AST. There is no Python ``eval``, no attribute access on Python
objects and no way to reach Python internals: a dotted name only looks up keys of nested
mappings, and names starting with ``_`` are refused.

Grammar (lowest precedence first)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
    operand := literal | list | call | path | "(" expr ")"
    path    := NAME ("." NAME)*                      e.g. device.type, profile.lifecycle
    call    := NAME "(" (expr ("," expr)*)? ")"      only registered functions
    list    := "[" (expr ("," expr)*)? "]"
    literal := "string" | 'string' | number | -number | true | false | null

Semantics, chosen so a condition never crashes a request:

- a missing key anywhere along a path evaluates to ``null``;
- ``==`` / ``!=`` compare values (``null == null`` is true, ``null == "x"`` is false);
- ``<``, ``<=``, ``>``, ``>=`` are false unless both sides are numbers or both are strings;
- ``x in y`` is false when ``y`` is not a list, string or mapping; ``not in`` is its negation;
- ``and``, ``or`` and ``not`` use truthiness (``null``, ``false``, ``0``, ``""``, ``[]`` are false)
  and always produce ``true`` or ``false``.

Functions (see :data:`DEFAULT_FUNCTIONS`; a constructor argument can replace them):

- ``affinity(topic)``: ``profile.affinities[topic]`` as a number, ``0`` when unknown;
- ``lower(s)``: ``s`` lower-cased (``null`` when ``s`` is not a string);
- ``len(x)``: length of a list, string or mapping, ``0`` otherwise;
- ``contains(x, y)``: same as ``y in x``;
- ``starts_with(s, prefix)``: true when both are strings and ``s`` starts with ``prefix``.

The language does not prescribe the keys of the context. The decision passes, and the demo
pool's conditions use, the situation's keys at the top level plus intent and profile::

    device   {type, os, browser}              source  {medium, name, term, campaign}
    language, country, daypart, weekday, returning, phase, moment
    intent   {name, phase, moment}
    profile  {lifecycle, affinities: {topic: weight}, interests}   (empty without consent)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from content_pool.errors import ExpressionError

MAX_SOURCE_LENGTH: Final = 2000
MAX_DEPTH: Final = 40


def _affinity(context: Mapping[str, Any], topic: Any) -> float:
    profile = context.get("profile")
    affinities = profile.get("affinities") if isinstance(profile, Mapping) else None
    value = affinities.get(topic) if isinstance(affinities, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _lower(_: Mapping[str, Any], value: Any) -> Any:
    return value.lower() if isinstance(value, str) else None


def _len(_: Mapping[str, Any], value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | Mapping) else 0


def _contains(_: Mapping[str, Any], haystack: Any, needle: Any) -> bool:
    return _membership(needle, haystack)


def _starts_with(_: Mapping[str, Any], value: Any, prefix: Any) -> bool:
    return isinstance(value, str) and isinstance(prefix, str) and value.startswith(prefix)


@dataclass(frozen=True, slots=True)
class Function:
    """A function callable from conditions: ``impl(context, *args)`` with a fixed arity."""

    arity: int
    impl: Callable[..., Any]


DEFAULT_FUNCTIONS: Final[Mapping[str, Function]] = {
    "affinity": Function(1, _affinity),
    "lower": Function(1, _lower),
    "len": Function(1, _len),
    "contains": Function(2, _contains),
    "starts_with": Function(2, _starts_with),
}

# --- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.|-)
    """,
    re.VERBOSE,
)
_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_ESCAPES: Final = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | string | name | keyword | op | end
    text: str
    pos: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            if source[pos] in "\"'":
                raise ExpressionError("unterminated string", source, pos)
            raise ExpressionError(f"unexpected character {source[pos]!r}", source, pos)
        kind = match.lastgroup
        assert kind is not None
        text = match.group()
        if kind == "name" and text in _KEYWORDS:
            kind = "keyword"
        if kind != "ws":
            tokens.append(_Token(kind, text, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _unquote(text: str, source: str, pos: int) -> str:
    out: list[str] = []
    i = 1
    while i < len(text) - 1:
        char = text[i]
        if char == "\\":
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{nxt}", source, pos + i)
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


# --- AST ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >= in "not in"
    left: Node
    right: Node


Node = Literal | Path | ListExpr | Call | Not | BoolOp | Compare

_COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, source: str, functions: Mapping[str, Function]) -> None:
        self.source = source
        self.functions = functions
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.index]

    def _error(self, message: str, token: _Token | None = None) -> ExpressionError:
        token = token or self.tok
        return ExpressionError(message, self.source, token.pos)

    def _describe(self, token: _Token) -> str:
        return "end of condition" if token.kind == "end" else repr(token.text)

    def _advance(self) -> _Token:
        token = self.tok
        self.index += 1
        return token

    def _accept(self, kind: str, text: str) -> bool:
        if self.tok.kind == kind and self.tok.text == text:
            self.index += 1
            return True
        return False

    def _expect(self, kind: str, text: str) -> None:
        if not self._accept(kind, text):
            raise self._error(f"expected {text!r}, found {self._describe(self.tok)}")

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self._error("empty condition")
        node = self._or()
        if self.tok.kind != "end":
            raise self._error(f"unexpected {self._describe(self.tok)}")
        return node

    def _or(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error("condition is nested too deeply")
        operands = [self._and()]
        while self._accept("keyword", "or"):
            operands.append(self._and())
        self.depth -= 1
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._accept("keyword", "and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def _not(self) -> Node:
        if self._accept("keyword", "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self._error("condition is nested too deeply")
            node = Not(self._not())
            self.depth -= 1
            return node
        return self._compare()

    def _compare(self) -> Node:
        left = self._operand()
        token = self.tok
        if token.kind == "op" and token.text in _COMPARISONS:
            self._advance()
            return Compare(token.text, left, self._operand())
        if self._accept("keyword", "in"):
            return Compare("in", left, self._operand())
        if token.kind == "keyword" and token.text == "not":
            nxt = self.tokens[self.index + 1]
            if nxt.kind == "keyword" and nxt.text == "in":
                self.index += 2
                return Compare("not in", left, self._operand())
        return left

    def _operand(self) -> Node:
        token = self.tok
        if token.kind == "number":
            self._advance()
            return Literal(_number(token.text))
        if token.kind == "op" and token.text == "-":
            self._advance()
            if self.tok.kind != "number":
                raise self._error("'-' must be followed by a number")
            return Literal(-_number(self._advance().text))
        if token.kind == "string":
            self._advance()
            return Literal(_unquote(token.text, self.source, token.pos))
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self._advance()
            return Literal({"true": True, "false": False, "null": None}[token.text])
        if self._accept("op", "("):
            node = self._or()
            self._expect("op", ")")
            return node
        if self._accept("op", "["):
            return ListExpr(self._items("]"))
        if token.kind == "name":
            return self._name()
        raise self._error(f"expected a value, found {self._describe(token)}")

    def _items(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self._accept("op", closing):
            return ()
        while True:
            items.append(self._or())
            if self._accept("op", closing):
                return tuple(items)
            self._expect("op", ",")

    def _check_name(self, token: _Token) -> str:
        if token.text.startswith("_"):
            raise self._error(f"names starting with '_' are not allowed: {token.text!r}", token)
        return token.text

    def _name(self) -> Node:
        first = self._advance()
        name = self._check_name(first)
        if self._accept("op", "("):
            function = self.functions.get(name)
            if function is None:
                known = ", ".join(sorted(self.functions)) or "none"
                raise self._error(f"unknown function {name!r} (known: {known})", first)
            args = self._items(")")
            if len(args) != function.arity:
                raise self._error(
                    f"{name}() takes {function.arity} argument(s), got {len(args)}", first
                )
            return Call(name, args)
        parts = [name]
        while self._accept("op", "."):
            token = self.tok
            if token.kind not in ("name", "keyword"):
                raise self._error(f"expected a name after '.', found {self._describe(token)}")
            self._advance()
            parts.append(self._check_name(token))
        return Path(tuple(parts))


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


# --- evaluation ---------------------------------------------------------------------------


def _membership(needle: Any, haystack: Any) -> bool:
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, list | tuple):
        return any(_equal(needle, item) for item in haystack)
    if isinstance(haystack, Mapping):
        return isinstance(needle, str) and needle in haystack
    return False


def _equal(left: Any, right: Any) -> bool:
    # true == 1 must not hold in a language where booleans and numbers are different things
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _ordered(op: str, left: Any, right: Any) -> bool:
    numbers = (int, float)
    both_numbers = (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    )
    if not (both_numbers or (isinstance(left, str) and isinstance(right, str))):
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


class Expression:
    """A compiled audience condition. Build it with :func:`compile_expression`."""

    __slots__ = ("source", "ast", "_functions")

    def __init__(self, source: str, ast: Node, functions: Mapping[str, Function]) -> None:
        self.source = source
        self.ast = ast
        self._functions = functions

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def value(self, context: Mapping[str, Any]) -> Any:
        """The value of the expression in ``context`` (``None`` for missing attributes)."""
        return self._eval(self.ast, context)

    def matches(self, context: Mapping[str, Any]) -> bool:
        """Whether the condition holds in ``context``; never raises for missing attributes."""
        return bool(self._eval(self.ast, context))

    def _eval(self, node: Node, context: Mapping[str, Any]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Path):
            current: Any = context
            for part in node.parts:
                if not isinstance(current, Mapping):
                    return None
                current = current.get(part)
            return current
        if isinstance(node, BoolOp):
            if node.op == "and":
                return all(self._eval(o, context) for o in node.operands)
            return any(self._eval(o, context) for o in node.operands)
        if isinstance(node, Not):
            return not self._eval(node.operand, context)
        if isinstance(node, Compare):
            left = self._eval(node.left, context)
            right = self._eval(node.right, context)
            if node.op == "==":
                return _equal(left, right)
            if node.op == "!=":
                return not _equal(left, right)
            if node.op == "in":
                return _membership(left, right)
            if node.op == "not in":
                return not _membership(left, right)
            return _ordered(node.op, left, right)
        if isinstance(node, ListExpr):
            return [self._eval(item, context) for item in node.items]
        args = [self._eval(arg, context) for arg in node.args]
        return self._functions[node.name].impl(context, *args)


def compile_expression(
    source: str, functions: Mapping[str, Function] = DEFAULT_FUNCTIONS
) -> Expression:
    """Parse ``source`` into an :class:`Expression`.

    Raises :class:`~content_pool.errors.ExpressionError` (a ``ValueError``) with the character
    position for bad syntax, unknown functions, wrong arity, names starting with ``_``, or a
    condition longer than :data:`MAX_SOURCE_LENGTH` characters.

    >>> compile_expression('device.type == "mobile"').matches({"device": {"type": "mobile"}})
    True
    """
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"condition is longer than {MAX_SOURCE_LENGTH} characters", source, MAX_SOURCE_LENGTH
        )
    return Expression(source, _Parser(source, functions).parse(), functions)


def names_used(expression: Expression) -> Sequence[str]:
    """The dotted paths an expression reads, in order of appearance (for explanations)."""
    found: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Path):
            found.append(".".join(node.parts))
        elif isinstance(node, ListExpr | Call):
            for child in node.items if isinstance(node, ListExpr) else node.args:
                walk(child)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, BoolOp):
            for child in node.operands:
                walk(child)
        elif isinstance(node, Compare):
            walk(node.left)
            walk(node.right)

    walk(expression.ast)
    return found
