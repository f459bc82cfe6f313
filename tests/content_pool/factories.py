"""Factory functions for content tests."""

from __future__ import annotations

from typing import Any

from content_pool.models import ContentDraft


def make_draft(**overrides: Any) -> ContentDraft:
    """A valid live web hero item in German; any field can be overridden."""
    data: dict[str, Any] = {
        "id": "hero-test",
        "title": "Test hero",
        "slot": "hero",
        "channel": "web",
        "language": "de",
        "template": "<h1>{{ item.title }}</h1>",
        "status": "live",
    }
    data.update(overrides)
    return ContentDraft.model_validate(data)
