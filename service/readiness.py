"""What must be in place before Kairos says it is ready."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Check = Callable[[], Awaitable[str | None]]
"""A readiness check returns ``None`` when fine, else a sentence saying what is missing."""


class Readiness:
    """Named checks, run on every ``/readyz``."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        """``{name: "ok" | reason}`` for every check; a check that raises is not ready."""
        report: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                problem = await check()
            except Exception as exc:  # a failing check means "not ready", never a crash
                problem = f"{type(exc).__name__}: {exc}"
            report[name] = "ok" if problem is None else problem
        return report
