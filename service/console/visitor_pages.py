""""View as visitor": the decision a described visitor would get, with every reason.

The marketer picks a device (or types a User-Agent), a referrer or a search term, a landing URL
(UTM parameters), an utterance, and a profile id or a lifecycle stage with interests. The
decision is made by a dry-run copy of the live decider (:mod:`service.console.preview`): the
same answer a visitor would get, without logging it or counting a showing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from content_pool.models import ContentItem
from personalization.automation.next_action import NextActionPlanner
from personalization.automation.person import Person
from personalization.decisions.decider import Decider
from personalization.decisions.models import Decision, DecisionRequest
from personalization.decisions.ranking import LIFECYCLE_STAGES
from service.console.preview import PREVIEW_PROFILE_ID, preview_decider, stated_profile
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console/visitor", include_in_schema=False)

DEVICES: dict[str, str] = {
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "ipad": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Safari/605.1.15",
}
WEB_SLOTS = ("hero", "sidebar", "banner", "product_reco", "notice")


def _decider(request: Request) -> Decider | None:
    decider: Decider | None = request.state.components.decider
    return decider


def _slots_of(request: Request) -> list[str]:
    decider = _decider(request)
    if decider is None:
        return list(WEB_SLOTS)
    found = sorted({slot for slot, _, _ in decider.pool.placements()})
    return found or list(WEB_SLOTS)


def _choices(request: Request) -> dict[str, Any]:
    return {
        "section": "visitor", "devices": DEVICES, "lifecycle_stages": LIFECYCLE_STAGES,
        "all_slots": _slots_of(request), "default_slots": ["hero", "sidebar", "banner"],
    }  # fmt: skip


def visitor_request(form: dict[str, Any]) -> tuple[DecisionRequest, bool]:
    """The decision request a console form describes, and whether it states a profile."""
    user_agent = (form.get("user_agent") or "").strip() or DEVICES.get(
        form.get("device") or "", DEVICES["desktop"]
    )
    referrer = (form.get("referrer") or "").strip()
    term = (form.get("search_term") or "").strip()
    if term and not referrer:
        referrer = f"https://www.google.de/search?q={quote_plus(term)}"
    lang = form.get("lang") or "de"
    context: dict[str, Any] = {
        "user_agent": user_agent,
        "accept_language": "de-DE,de;q=0.9,en;q=0.5" if lang == "de" else "en-GB,en;q=0.9",
    }
    if referrer:
        context["referrer"] = referrer
    if (form.get("url") or "").strip():
        context["url"] = form["url"].strip()
    profile_id = (form.get("profile_id") or "").strip() or None
    stated = profile_id is None and bool(form.get("lifecycle") or form.get("interests"))
    if stated:
        profile_id = PREVIEW_PROFILE_ID
    slots = [s for s in form.get("slots", []) if s] or ["hero"]
    request = DecisionRequest(
        session_id="console-preview",
        profile_id=profile_id,
        slots=slots,
        context=context,
        text=(form.get("utterance") or "").strip() or term or None,
        lang=lang,
    )
    return request, stated


def _next_action(request: Request, decision: Decision, lifecycle: str) -> Any:
    if decision.next_action is not None:
        return decision.next_action
    if decision.phase is None and decision.moment is None:
        return None
    planner: NextActionPlanner = request.state.components.automation.planner

    unknown = SimpleNamespace(name="unknown", confidence=0.0)
    prediction = SimpleNamespace(
        intent=decision.intent or unknown,
        phase=decision.phase or unknown,
        moment=decision.moment or unknown,
    )
    situation = SimpleNamespace(language=SimpleNamespace(code=decision.situation.language))
    person = Person(profile_id=None, stage=lifecycle)
    action = planner.immediate(person, situation, prediction, datetime.now(UTC))
    return action.model_dump(mode="json") if action is not None else None


@router.get("")
async def visitor_form(request: Request, session: SessionDep) -> Response:
    return page(request, "visitor.html", {**_choices(request), "form": {}})


@router.post("")
async def visitor_decision(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    raw = await request.form()
    form: dict[str, Any] = {k: v for k, v in raw.items() if k != "slots"}
    form["slots"] = [s for s in raw.getlist("slots") if isinstance(s, str)]
    decider = _decider(request)
    context: dict[str, Any] = {"form": form, "decision": None, "error": None}
    if decider is None:
        context["error"] = "The decision engine is not running in this Kairos."
        return page(request, "visitor_decision.html", context, status_code=503)
    try:
        decision_request, stated = visitor_request(form)
    except ValidationError as exc:
        context["error"] = "; ".join(str(e["msg"]) for e in exc.errors())
        return page(request, "visitor_decision.html", context, status_code=422)
    profile = None
    if stated:
        interests = [t.strip() for t in str(form.get("interests", "")).split(",") if t.strip()]
        profile = stated_profile(str(form.get("lifecycle") or ""), interests)
    decision = await preview_decider(decider, profile).decide(
        decision_request, datetime.now(UTC)
    )
    titles: dict[str, ContentItem | None] = {
        item.item_id: decider.pool.get(item.item_id)
        for items in decision.slots.values()
        for item in items
    }
    context.update(
        decision=decision,
        items=titles,
        next_action=_next_action(request, decision, decision.lifecycle),
        user_agent=decision_request.context.user_agent,
        referrer=decision_request.context.referrer,
    )
    return page(request, "visitor_decision.html", context)
