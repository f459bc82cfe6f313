"""The audience condition language: a small, safe boolean language over a dict context.

An item's ``targeting.audience`` is a condition such as::

    device.type == "mobile" and source.medium in ["search", "email"]
        and profile.lifecycle != "lapsed" and affinity("hiking") > 0.3

It is tokenised and parsed (recursive descent) once, by :func:`compile_expression`, into a
tree of closures over the context, so evaluating it is a few function calls. There is no Python
``eval``, no attribute access on Python objects and no way to reach Python internals: a dotted
name only looks up keys of nested mappings, and names starting with ``_`` are refused.

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

Functions (see :data:`DEFAULT_FUNCTIONS` in :mod:`content_pool.audience_values`; an argument
of :func:`compile_expression` can replace them):

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

Why not CEL (Common Expression Language): its Python runtimes raise on a missing key, on
``null > 3``, ``!null`` and ``"x" in 3``, where this language reads null and false (so a negated
condition would flip), and they lack ``affinity`` over the context; per evaluation, with the
decision's dict context, they cost 1.5-3x (C++), 10x (Rust) or 70x and more (pure Python) what
this evaluator does. ``python -m bench.bench_audience --cel`` measures it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from content_pool.audience_values import COMPARISONS, NEGATED, OPERATORS
from content_pool.audience_values import DEFAULT_FUNCTIONS as DEFAULT_FUNCTIONS
from content_pool.audience_values import Function as Function
from content_pool.errors import ExpressionError

MAX_SOURCE_LENGTH: Final = 2000
MAX_DEPTH: Final = 40


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
    def escape(match: re.Match[str]) -> str:
        if match.group(1) not in _ESCAPES:
            raise ExpressionError(f"unknown escape {match.group()}", source, pos + match.start())
        return _ESCAPES[match.group(1)]

    return re.sub(r"\\(.)", escape, text[1:-1])


# --- compilation: the parser turns each node into a closure over the context ----------------

Evaluator = Callable[[Mapping[str, Any]], Any]
"""A compiled (sub-)condition: the context in, a value out."""


def _literal(value: Any) -> Evaluator:
    return lambda _: value


def _path(parts: tuple[str, ...]) -> Evaluator:
    def read(context: Mapping[str, Any]) -> Any:
        current: Any = context
        for part in parts:
            if not isinstance(current, Mapping):
                return None
            current = current.get(part)
        return current

    return read


def _compare(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    if op in NEGATED:
        test = COMPARISONS[NEGATED[op]]
        return lambda context: not test(left(context), right(context))
    test = COMPARISONS[op]
    return lambda context: test(left(context), right(context))


def _call(function: Function, args: tuple[Evaluator, ...]) -> Evaluator:
    impl = function.impl
    return lambda context: impl(context, *(arg(context) for arg in args))


class _Parser:
    def __init__(self, source: str, functions: Mapping[str, Function]) -> None:
        self.source = source
        self.functions = functions
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0
        self.paths: list[str] = []
        self.topics: list[tuple[str, int]] = []

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

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error("condition is nested too deeply")

    def parse(self) -> Evaluator:
        if self.tok.kind == "end":
            raise self._error("empty condition")
        node = self._or()
        if self.tok.kind != "end":
            raise self._error(f"unexpected {self._describe(self.tok)}")
        return node

    def _or(self) -> Evaluator:
        self._deeper()
        operands = [self._and()]
        while self._accept("keyword", "or"):
            operands.append(self._and())
        self.depth -= 1
        return operands[0] if len(operands) == 1 else _any_of(tuple(operands))

    def _and(self) -> Evaluator:
        operands = [self._not()]
        while self._accept("keyword", "and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _all_of(tuple(operands))

    def _not(self) -> Evaluator:
        if self._accept("keyword", "not"):
            self._deeper()
            operand = self._not()
            self.depth -= 1
            return lambda context: not operand(context)
        return self._comparison()

    def _comparison(self) -> Evaluator:
        left = self._operand()
        token = self.tok
        if token.kind == "op" and token.text in OPERATORS:
            self._advance()
            return _compare(token.text, left, self._operand())
        if self._accept("keyword", "in"):
            return _compare("in", left, self._operand())
        if token.kind == "keyword" and token.text == "not":
            nxt = self.tokens[self.index + 1]
            if nxt.kind == "keyword" and nxt.text == "in":
                self.index += 2
                return _compare("not in", left, self._operand())
        return left

    def _operand(self) -> Evaluator:
        token = self.tok
        if token.kind == "number":
            self._advance()
            return _literal(_number(token.text))
        if token.kind == "op" and token.text == "-":
            self._advance()
            if self.tok.kind != "number":
                raise self._error("'-' must be followed by a number")
            return _literal(-_number(self._advance().text))
        if token.kind == "string":
            self._advance()
            return _literal(_unquote(token.text, self.source, token.pos))
        if token.kind == "keyword" and token.text in _CONSTANTS:
            self._advance()
            return _literal(_CONSTANTS[token.text])
        if self._accept("op", "("):
            node = self._or()
            self._expect("op", ")")
            return node
        if self._accept("op", "["):
            items = self._items("]")
            return lambda context: [item(context) for item in items]
        if token.kind == "name":
            return self._name()
        raise self._error(f"expected a value, found {self._describe(token)}")

    def _items(self, closing: str) -> tuple[Evaluator, ...]:
        items: list[Evaluator] = []
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

    def _name(self) -> Evaluator:
        first = self._advance()
        name = self._check_name(first)
        if self._accept("op", "("):
            function = self.functions.get(name)
            if function is None:
                known = ", ".join(sorted(self.functions)) or "none"
                raise self._error(f"unknown function {name!r} (known: {known})", first)
            literal = self.tokens[self.index : self.index + 2]
            if name == "affinity" and [t.kind for t in literal] == ["string", "op"]:
                self.topics.append((_unquote(literal[0].text, self.source, literal[0].pos),
                                    literal[0].pos))  # fmt: skip
            args = self._items(")")
            if len(args) != function.arity:
                raise self._error(
                    f"{name}() takes {function.arity} argument(s), got {len(args)}", first
                )
            return _call(function, args)
        parts = [name]
        while self._accept("op", "."):
            token = self.tok
            if token.kind not in ("name", "keyword"):
                raise self._error(f"expected a name after '.', found {self._describe(token)}")
            self._advance()
            parts.append(self._check_name(token))
        self.paths.append(".".join(parts))
        return _path(tuple(parts))


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


_CONSTANTS: Final[Mapping[str, Any]] = {"true": True, "false": False, "null": None}


def _all_of(operands: tuple[Evaluator, ...]) -> Evaluator:
    return lambda context: all(operand(context) for operand in operands)


def _any_of(operands: tuple[Evaluator, ...]) -> Evaluator:
    return lambda context: any(operand(context) for operand in operands)


class Expression:
    """A compiled audience condition. Build it with :func:`compile_expression`."""

    __slots__ = ("source", "paths", "topics", "_evaluate")

    def __init__(
        self,
        source: str,
        evaluate: Evaluator,
        paths: Sequence[str],
        topics: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.source = source
        self.paths: tuple[str, ...] = tuple(paths)
        self.topics: tuple[tuple[str, int], ...] = tuple(topics)
        """The topics named as ``affinity("...")``, with their position (to check them)."""
        self._evaluate = evaluate

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def value(self, context: Mapping[str, Any]) -> Any:
        """The value of the expression in ``context`` (``None`` for missing attributes)."""
        return self._evaluate(context)

    def matches(self, context: Mapping[str, Any]) -> bool:
        """Whether the condition holds in ``context``; never raises for missing attributes."""
        return bool(self._evaluate(context))


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
    parser = _Parser(source, functions)
    evaluate = parser.parse()
    return Expression(source, evaluate, parser.paths, parser.topics)


def unknown_topics(expression: Expression, known: Collection[str]) -> ExpressionError | None:
    """The error for the first ``affinity("topic")`` whose topic is not in ``known``, if any."""
    for topic, pos in expression.topics:
        if topic not in known:
            listed = ", ".join(sorted(known)) or "none"
            return ExpressionError(f"unknown topic {topic!r} in affinity() (known: {listed})",
                                   expression.source, pos)  # fmt: skip
    return None


def names_used(expression: Expression) -> Sequence[str]:
    """The dotted paths an expression reads, in order of appearance (for explanations)."""
    return expression.paths
