"""Every domain error maps to a status and title through one read-only table."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from content_pool import errors as content_errors
from intent import errors as intent_errors
from personalization import errors as personalization_errors
from service import problems


def _errors_of(module: ModuleType) -> list[type[BaseException]]:
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__]


@pytest.mark.parametrize(
    "error",
    [e for m in (intent_errors, personalization_errors, content_errors) for e in _errors_of(m)],
    ids=lambda e: e.__name__,
)
def test_every_domain_error_has_a_problem(error: type[BaseException]) -> None:
    assert issubclass(error, problems.ROOTS)
    mapped = problems.lookup(error.__new__(error))
    assert mapped is not None
    status, title = mapped
    assert 400 <= status < 600 and title


def test_subclasses_inherit_their_parents_mapping() -> None:
    class Narrower(content_errors.ContentNotFound):
        pass

    assert problems.lookup(Narrower("x")) == (404, "Content not found")


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        problems.PROBLEMS[KeyError] = (400, "x")  # type: ignore[index]
    assert not hasattr(problems, "register")
