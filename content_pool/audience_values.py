"""Values in the audience language: equality, membership, ordering, and the callable functions.

Chosen so that no value in a context can make a condition raise: comparisons of values of
different kinds are false rather than errors, and every function returns a neutral value
(``0``, ``null``, ``false``) for arguments it does not understand. The parser lives in
:mod:`content_pool.expressions`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final


def membership(needle: Any, haystack: Any) -> bool:
    """``needle in haystack``: substring, list element, mapping key; false for anything else."""
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, list | tuple):
        return any(equal(needle, item) for item in haystack)
    if isinstance(haystack, Mapping):
        return isinstance(needle, str) and needle in haystack
    return False


def equal(left: Any, right: Any) -> bool:
    """``left == right``, with booleans never equal to numbers."""
    # true == 1 must not hold in a language where booleans and numbers are different things
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _comparable(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return True
    numbers = (int, float)
    return all(isinstance(v, numbers) and not isinstance(v, bool) for v in (left, right))


def _ordered(test: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    return lambda left, right: _comparable(left, right) and bool(test(left, right))


COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "==": equal,
    "<": _ordered(operator.lt),
    "<=": _ordered(operator.le),
    ">": _ordered(operator.gt),
    ">=": _ordered(operator.ge),
    "in": lambda needle, haystack: membership(needle, haystack),
}
NEGATED: Final = {"!=": "==", "not in": "in"}
"""Operators that are the negation of one in :data:`COMPARISONS`."""
OPERATORS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
"""The symbolic comparison operators (``in`` and ``not in`` are keywords)."""


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
    return membership(needle, haystack)


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
