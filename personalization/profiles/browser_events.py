"""What a browser may report: the events a public site key is allowed to send.

A website's key sits in every page, so whoever holds it is "a browser" and proves nothing about
who they are. A browser may report what the visitor does on the site, about the visitor itself:

==========================  =====================================================================
page_view, product_view,    about the anonymous visitor (``anonymous_id``) or about the person of
search, add_to_cart,        the verified identity (``profile_id`` equal to it)
remove_from_cart,
checkout_started,
chat_message
login, account_created      only with the verified identity as ``profile_id`` (the anonymous id
                            beside it is merged in), and without ``attributes``
consent_update              only the verified identity's own consents
anything else               purchases, profile updates, newsletter sign-ups, campaign opens and
                            clicks, custom events: the server key (the shop's backend) or admin
==========================  =====================================================================

An ``anonymous_id`` that names a known (non-anonymous) profile is refused: it would write into
that person's profile. :func:`refusal` checks one event; :func:`known_ids` finds those ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final

from personalization.profiles.events import Event
from personalization.profiles.identity import mergeable
from personalization.store.protocols import ProfileStore

BEHAVIOUR: Final = frozenset({
    "page_view", "product_view", "search", "add_to_cart", "remove_from_cart",
    "checkout_started", "chat_message",
})
"""Event types a browser may send about the visitor."""

OWN: Final = frozenset({"login", "account_created", "consent_update"})
"""Event types a browser may send only about the person of its verified identity."""

_SERVER = "needs the server key (the shop's backend)"


def refusal(event: Event, verified: str | None) -> str | None:
    """Why a browser may not send ``event`` (``verified``: its proven profile id), or ``None``."""
    kind = event.type
    if kind not in BEHAVIOUR and kind not in OWN:
        return (f"type {kind!r} {_SERVER}; a browser may send {', '.join(sorted(BEHAVIOUR))}, "
                "and login, account_created and consent_update about its signed identity")
    if event.profile_id is not None and event.profile_id != verified:
        if verified is None:
            return ("profile_id is not proven: send the shop-signed X-Kairos-Identity of that "
                    "person, or only anonymous_id")
        return "profile_id is not the person of the X-Kairos-Identity sent"
    if kind in OWN:
        if event.profile_id is None:
            return (f"{kind} from a browser must name the person of its X-Kairos-Identity as "
                    "profile_id")
        attributes = getattr(event.properties, "attributes", None)
        if attributes is not None:
            return f"{kind} with attributes {_SERVER}"
    return None


async def known_ids(store: ProfileStore, anonymous_ids: Iterable[str]) -> set[str]:
    """The ``anonymous_ids`` that name a known person's profile (not a visitor's)."""
    ids = sorted(set(anonymous_ids))
    free = await asyncio.gather(*(mergeable(store, i) for i in ids))
    return {i for i, ok in zip(ids, free, strict=True) if not ok}
