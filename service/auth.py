"""API keys and the caller they make: site (public), server (the shop's backend), admin.

Sent as ``X-API-Key``. The **site key** sits in every web page, so it proves nothing about who
calls: with it a request names a known person only through a signed identity
(``X-Kairos-Identity``, :mod:`personalization.profiles.signed_identity`) or a signed newsletter
link, and may report only behavioural events (:mod:`personalization.profiles.browser_events`).
The **server key** (the shop's backend, a chatbot server) is trusted with any ``profile_id`` and
every event type on the public routes. The **admin key** opens everything. Missing key: 401; a key
that does not open the route: 403. Comparison is constant-time.

:func:`get_caller` is the one place that decides what a request may name: every public route
depends on it (a site key from a page of another site's origin is refused there), and the routes
that name a person ask the :class:`Caller` (:meth:`Caller.person`, :meth:`Caller.event_refusal`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personalization.profiles import browser_events
from personalization.profiles.events import Event
from personalization.profiles.signed_identity import IdentityRefused, IdentityVerifier

Role = Literal["site", "server", "admin"]
IDENTITY_HEADER = "X-Kairos-Identity"
_SEE = "see the README, 'Identity from the browser'"


@dataclass(frozen=True)
class ApiKeys:
    site: str
    admin: str
    server: str
    more_sites: tuple[str, ...] = ()
    """The keys of the further websites (``KAIROS_SITES``)."""

    @classmethod
    def generate(cls) -> ApiKeys:
        return cls(site="site-" + secrets.token_urlsafe(18),
                   admin="admin-" + secrets.token_urlsafe(24),
                   server="server-" + secrets.token_urlsafe(24))  # fmt: skip

    def role_of(self, key: str | bytes | None) -> Role | None:
        if not key:
            return None
        sent = key if isinstance(key, bytes) else key.encode()
        # every key is compared, so the time taken does not tell which one nearly matched
        found: Role | None = None
        every = [("admin", self.admin), ("server", self.server), ("site", self.site),
                 *(("site", key) for key in self.more_sites)]
        for role, known in every:
            if hmac.compare_digest(sent, known.encode()) and found is None:
                found = role  # type: ignore[assignment]
        return found


@dataclass(frozen=True)
class Site:
    """A website: its identity verifier, and the origins its key works from (``None``: any)."""

    verifier: IdentityVerifier
    origins: frozenset[str] | None = None


@dataclass(frozen=True)
class Sites:
    """The websites by key; ``default`` is the one of ``KAIROS_SITE_KEY``."""

    default: Site
    by_key: dict[str, Site]

    def of(self, key: str | None) -> Site:
        return self.by_key.get(key or "", self.default)

    def verifiers(self) -> list[IdentityVerifier]:
        return [self.default.verifier, *(s.verifier for s in self.by_key.values())]


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.api_keys
    return keys


def role(request: Request) -> Role | None:
    """The role of the request's key (header, or the console's session), or ``None``."""
    header = request.headers.get("x-api-key")
    found = _keys(request).role_of(header)
    if found is None and header is None:
        session_role = request.scope.get("kairos_console_role")
        if session_role in ("site", "admin"):
            return session_role  # type: ignore[no-any-return]
    return found


async def require_site(request: Request) -> Role:
    """Dependency: any valid key (site, server or admin): the public routes."""
    found = role(request)
    if found is None:
        _refuse(request)
    assert found is not None
    return found


async def require_admin(request: Request) -> Role:
    """Dependency: the admin key only."""
    found = role(request)
    if found != "admin":
        _refuse(request, wrong_role=found)
    return "admin"


def _refuse(request: Request, *, wrong_role: Role | None = None) -> None:
    header = request.headers.get("x-api-key")
    if header is None:
        raise HTTPException(401, "Send your API key in the X-API-Key header.",
                            headers={"WWW-Authenticate": "ApiKey"})
    if wrong_role is not None:
        raise HTTPException(
            403, f"This route needs the admin key; the key sent is the {wrong_role} key.")
    raise HTTPException(403, "The API key sent is not valid for this Kairos instance.")


@dataclass(frozen=True)
class Caller:
    """Who calls a public route: the key's role and the profile id a signed identity proved."""

    role: Role
    verified_profile_id: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether the caller may name anyone (server and admin keys) or only itself (site)."""
        return self.role != "site"

    def person(self, profile_id: str | None) -> str | None:
        """The known person a decision or chat turn is for; raises 403 for an unproven id.

        The site key names a person only by the signed identity: a ``profile_id`` beside it must
        be the same, and one without it is refused (never silently dropped: the page would show
        anonymous content and nobody would notice the integration is wrong).
        """
        if self.trusted or profile_id is None or profile_id == self.verified_profile_id:
            return profile_id or self.verified_profile_id
        if self.verified_profile_id is None:
            raise HTTPException(
                403, "With the site key a profile_id needs proof: send the token your server "
                f"signs for the logged-in customer in the {IDENTITY_HEADER} header (or send "
                f"only anonymous_id); {_SEE}.")
        raise HTTPException(
            403, f"The profile_id sent is not the person of the {IDENTITY_HEADER} token: a token "
            f"proves one customer only; {_SEE}.")

    def event_refusal(self, event: Event) -> str | None:
        """Why this caller may not send ``event`` (see :mod:`browser_events`), or ``None``."""
        if self.trusted:
            return None
        return browser_events.refusal(event, self.verified_profile_id)


NO_GRANT = "kairos.no_cors_grant"
"""Scope flag: the request was refused for its origin, so its answer carries no CORS grant."""


async def get_caller(request: Request) -> Caller:
    """Dependency of the public routes: the :class:`Caller`, its identity token verified.

    A site key sent from a page of an origin that is not its site's is a 403 (with no CORS
    grant). A token that is sent must be valid (401 with the reason otherwise), whatever the key:
    a page with a broken signer should learn it at once. A site's token is verified with its
    site's secret; the server and admin keys' with any site's.
    """
    found = await require_site(request)
    sites: Sites = request.app.state.sites
    verifiers = sites.verifiers()
    if found == "site":
        site = sites.of(request.headers.get("x-api-key"))
        origin = request.headers.get("origin")
        if site.origins is not None and origin is not None and origin not in site.origins:
            request.scope[NO_GRANT] = True
            raise HTTPException(403, f"This site key is not for pages of {origin}: use that "
                                "site's key, or add the origin to its site (KAIROS_SITES).")
        verifiers = [site.verifier]
    token = request.headers.get(IDENTITY_HEADER)
    if token is None:
        return Caller(found)
    refusal: IdentityRefused | None = None
    for verifier in verifiers:
        try:
            return Caller(found, verifier.verify(token.strip()))
        except IdentityRefused as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise HTTPException(401, f"{IDENTITY_HEADER} refused ({refusal.kind}): {refusal}; {_SEE}.",
                        headers={"WWW-Authenticate": "KairosIdentity"})


class NoGrantForRefusedOrigins:
    """Removes the CORS grant from an answer refused for its origin (outside ``CORSMiddleware``,
    which grants every site's origins: a preflight carries no key to tell the sites apart)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def strip(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(NO_GRANT):
                message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                      if not k.lower().startswith(b"access-control-")]
            await send(message)

        await self.app(scope, receive, strip)


CallerDep = Annotated[Caller, Depends(get_caller)]
