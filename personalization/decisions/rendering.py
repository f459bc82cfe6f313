"""Stage 4 of a decision, *render*: a placed item in the sandbox, with what the person may see.

Rendering runs as each item is placed (:mod:`personalization.decisions.placement`): an item
whose template fails is skipped and the slot's next candidate takes its place, and what one
slot shows is not offered to the next. The template sees the situation view and, with consent,
the profile as the ``sensitivity`` policy lets it show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from content_pool.errors import ContentRenderError
from content_pool.models import HTML_CHANNELS, ContentItem
from content_pool.render import Renderer
from personalization.decisions.models import DecisionContext, ScoredItem
from personalization.profiles.sensitivity import SensitivityPolicy

log = logging.getLogger("kairos.decisions")


@dataclass(frozen=True, slots=True)
class Rendering:
    """Renders items for one decision's ``context``."""

    renderer: Renderer
    context: DecisionContext
    sensitivity: SensitivityPolicy | None = None

    def render(self, item: ContentItem) -> str | None:
        """The rendered item, or ``None`` (logged) when its template fails."""
        profile = self.context.profile
        visible: dict[str, Any] | None = None
        if profile is not None:
            visible = (
                self.sensitivity.visible_profile(
                    lifecycle=profile.lifecycle, affinities=profile.affinities,
                    first_name=profile.first_name)
                if self.sensitivity is not None
                else {"lifecycle": profile.lifecycle, "affinities": dict(profile.affinities)}
            )  # fmt: skip
        try:
            return self.renderer.render(
                item,
                situation=self.context.situation_view,
                profile=visible,
                first_name=profile.first_name if profile else None,
                consent=profile is not None,
            )
        except ContentRenderError:
            log.exception("content item failed to render; skipped", extra={"item": item.id})
            return None


def scored(
    item: ContentItem, rendered: str, score: float, propensity: float, reasons: list[str]
) -> ScoredItem:
    """The answer's entry for a rendered item (HTML or text by its channel)."""
    html = item.channel in HTML_CHANNELS
    return ScoredItem(
        item_id=item.id,
        version=item.version,
        channel=item.channel,
        html=rendered if html else None,
        text=None if html else rendered,
        score=round(score, 6),
        propensity=round(propensity, 6),
        reasons=reasons,
    )
