"""Waiting for a Kairos started by a test or a benchmark (a thread or a process)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_ready(base: str, *, timeout: float, gone: Callable[[], str | None] = lambda: None,
               poll: float = 0.2) -> None:  # fmt: skip
    """Poll ``base``/readyz until it answers 200.

    ``gone()`` says why the server cannot come up any more (its process exited, its thread
    stopped) or ``None``; either that or ``timeout`` seconds without an answer raise
    ``RuntimeError``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        reason = gone()
        if reason is not None:
            raise RuntimeError(f"the server at {base} stopped while starting: {reason}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base} did not get ready in {timeout:.0f} s")
        time.sleep(poll)
