"""Building a real decider over a small content pool, for the decision tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from content_pool.models import ContentDraft
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import MemoryContentStore
from intent.encoder import HashingEncoder
from intent.situation.reader import SituationReader
from personalization.decisions.decider import Decider, DeciderParts, DecisionStore, ProfileSource
from personalization.decisions.holdout import Holdout
from personalization.decisions.models import DecisionRequest
from personalization.decisions.policies import ThompsonSampling, create_rng, make_policy
from personalization.decisions.ranking import FeatureIndex

NOW = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def item(item_id: str, **overrides: Any) -> ContentDraft:
    """A live German web hero item; any field can be overridden."""
    data: dict[str, Any] = {
        "id": item_id,
        "title": item_id.replace("-", " "),
        "slot": "hero",
        "channel": "web",
        "language": "de",
        "template": "<h1>{{ item.title }}</h1>",
        "status": "live",
    }
    data.update(overrides)
    return ContentDraft.model_validate(data)


async def make_pool(drafts: Sequence[ContentDraft]) -> ContentPool:
    content = MemoryContentStore()
    for draft in drafts:
        await content.put(draft, expected_version=0)
    pool = ContentPool(content)
    await pool.refresh()
    return pool


async def make_decider(
    store: DecisionStore,
    drafts: Sequence[ContentDraft],
    *,
    profiles: ProfileSource | None = None,
    holdout: float = 0.0,
    seed: int = 1,
    **policy: Any,
) -> Decider:
    pool = await make_pool(drafts)
    return Decider(DeciderParts(
        pool,
        store,
        renderer=Renderer(),
        policy=make_policy(ThompsonSampling(**policy), create_rng(seed)),
        features=FeatureIndex(HashingEncoder(dim=256)),
        situation_reader=SituationReader(),
        profiles=profiles,
        holdout=Holdout(holdout),
    ))


def request(**overrides: Any) -> DecisionRequest:
    data: dict[str, Any] = {
        "session_id": "s-1",
        "slots": ["hero"],
        "context": {"accept_language": "de-DE,de;q=0.9", "user_agent": MOBILE_UA},
    }
    data.update(overrides)
    return DecisionRequest.model_validate(data)
