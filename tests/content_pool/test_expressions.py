"""The audience condition language: parsing, precedence, missing values, safety."""

from __future__ import annotations

from typing import Any

import pytest

from content_pool.errors import ExpressionError
from content_pool.expressions import compile_expression, names_used

CONTEXT: dict[str, Any] = {
    "device": {"type": "mobile", "os": "Android"},
    "source": {"medium": "email", "term": None},
    "profile": {"lifecycle": "active", "affinities": {"hiking": 0.6, "running": 0.1}},
    "visits": 3,
    "tags": ["sale", "new"],
}


def holds(source: str, context: dict[str, Any] = CONTEXT) -> bool:
    return compile_expression(source).matches(context)


def test_the_documented_example_holds_and_fails_on_each_clause() -> None:
    source = (
        'device.type == "mobile" and source.medium in ["search", "email"] '
        'and profile.lifecycle != "lapsed" and affinity("hiking") > 0.3'
    )
    assert holds(source)
    assert not holds(source, {**CONTEXT, "device": {"type": "desktop"}})
    assert not holds(source, {**CONTEXT, "source": {"medium": "direct"}})
    assert not holds(source, {**CONTEXT, "profile": {"lifecycle": "lapsed"}})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # and binds tighter than or
        ("true or false and false", True),
        ("(true or false) and false", False),
        # not binds tighter than and, looser than comparison
        ("not false and false", False),
        ("not (false and false)", True),
        ('not device.type == "desktop"', True),
        ("not not true", True),
        ("false or false or true", True),
    ],
)
def test_precedence(source: str, expected: bool) -> None:
    assert holds(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"sale" in tags', True),
        ('"old" in tags', False),
        ('"old" not in tags', True),
        ('"sale" not in tags', False),
        ('"Andr" in device.os', True),
        ('"hiking" in profile.affinities', True),
        ("3 in [1, 2, 3]", True),
        ('"x" in visits', False),  # a number is no container: false, not an error
        ('"x" in nothing.here', False),
    ],
)
def test_membership(source: str, expected: bool) -> None:
    assert holds(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("visits >= 3", True),
        ("visits > 3", False),
        ("visits < 3.5", True),
        ("visits != 3", False),
        ("-1 < visits", True),
        ('device.type < "n"', True),  # strings compare with strings
        ('visits > "2"', False),  # number against string: false, never a TypeError
        ("true == 1", False),  # booleans are not numbers
    ],
)
def test_comparisons(source: str, expected: bool) -> None:
    assert holds(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("profile.birthday == null", True),
        ("missing.deeply.nested == null", True),
        ('missing.attr == "x"', False),
        ('missing.attr != "x"', True),
        ("missing.attr > 3", False),
        ("missing.attr < 3", False),
        ("missing.attr", False),
        ("not missing.attr", True),
        ("source.term == null", True),
        ("device.type.length == null", True),  # a path through a string is null
        ('affinity("climbing") == 0', True),
    ],
)
def test_missing_values_are_null_not_errors(source: str, expected: bool) -> None:
    assert holds(source) is expected


def test_functions() -> None:
    assert holds('affinity("hiking") > 0.5 and affinity("running") < 0.5')
    assert not holds('affinity("hiking") > 0.3', {"profile": None})
    assert holds('lower("ABC") == "abc" and lower(visits) == null')
    assert holds("len(tags) == 2 and len(missing) == 0")
    assert holds('contains(tags, "new") and not contains(visits, "new")')
    assert holds('starts_with(device.os, "And") and not starts_with(visits, "3")')


def test_strings_with_escapes_and_either_quote() -> None:
    context = {"q": 'say "hi"', "r": "it's"}
    assert holds(r'q == "say \"hi\""', context)
    assert holds("r == 'it\\'s'", context)


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ('device.type == "mobile" and', 27, "expected a value"),
        ("(a == 1", 7, "expected ')'"),
        ('a == "open', 5, "unterminated string"),
        ("a == 1 1", 7, "unexpected '1'"),
        ("a = 1", 2, "unexpected character '='"),
        ("a.", 2, "expected a name"),
        ("", 0, "empty"),
        ("[1, 2", 5, "expected ','"),
        ('shell("rm -rf /")', 0, "unknown function 'shell'"),
        ('affinity("a", "b")', 0, "takes 1 argument"),
        ("a == -x", 6, "'-' must be followed by a number"),
    ],
)
def test_syntax_errors_name_the_position(source: str, position: int, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.position == position
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "source",
    [
        "device.__class__",
        "__import__",
        "x.__class__.__mro__ == null",
        "device._private",
        "__builtins__.open",
        '_secret == "x"',
    ],
)
def test_no_access_to_python_internals(source: str) -> None:
    with pytest.raises(ExpressionError, match="names starting with '_'"):
        compile_expression(source)


def test_python_object_attributes_are_not_reachable_through_paths() -> None:
    class Leaky:
        secret = "token"

    # paths read mapping keys only; attributes of other objects are invisible
    expr = compile_expression('obj.secret == "token"')
    assert not expr.matches({"obj": Leaky()})
    assert expr.value({"obj": Leaky()}) is False
    assert compile_expression("obj.secret").value({"obj": Leaky()}) is None


def test_too_deep_and_too_long_are_refused() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 100 + "true" + ")" * 100)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("not " * 100 + "true")
    with pytest.raises(ExpressionError, match="longer than"):
        compile_expression("a == 1 or " * 300 + "true")


def test_names_used_lists_paths_for_explanations() -> None:
    expr = compile_expression('device.type == "mobile" and affinity(profile.top) > 0 or not x')
    assert list(names_used(expr)) == ["device.type", "profile.top", "x"]


def test_boolean_operators_yield_booleans_and_lists_evaluate_their_items() -> None:
    assert compile_expression("visits or missing").value(CONTEXT) is True
    assert compile_expression("visits and missing").value(CONTEXT) is False
    assert compile_expression("not visits").value(CONTEXT) is False
    assert compile_expression("[visits, missing, 'x']").value(CONTEXT) == [3, None, "x"]
    assert compile_expression('lower(device.os)').value(CONTEXT) == "android"
