"""Signed newsletter link tokens for the mail system (``GET /v1/links/token``, admin key).

The mail system asks once per recipient and appends ``?kt=<token>`` to the links of the mail;
the decision layer recognises it (:func:`personalization.decisions.links.identify`). Without
``KAIROS_LINK_SECRET`` the route answers 503: tokens are off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from personalization.clock import system_clock
from personalization.decisions.links import TOKEN_PARAM, LinkSigner
from personalization.profiles.ids import ProfileId
from service.deps import LinkSignerDep

router = APIRouter(prefix="/v1/links", tags=["links"])


class LinkToken(BaseModel):
    """A token for one recipient's links, and how to use it."""

    profile_id: str
    token: str
    param: str
    query: str
    expires_at: datetime


def _signer(signer: LinkSigner | None) -> LinkSigner:
    if signer is None:
        raise HTTPException(503, "Link tokens are off: set KAIROS_LINK_SECRET (16+ bytes).")
    return signer


@router.get("/token")
def issue_token(
    link_signer: LinkSignerDep,
    profile_id: Annotated[ProfileId, Query()],
    ttl_days: Annotated[float, Query(gt=0, le=3650, description="Days until it expires.")] = 30,
) -> LinkToken:
    """A signed, expiring token naming ``profile_id``; append ``query`` to the mail's links."""
    signer = _signer(link_signer)
    now = system_clock()
    token = signer.issue(profile_id, ttl=timedelta(days=ttl_days), now=now)
    expires = signer.expires_at(token)
    assert expires is not None
    return LinkToken(profile_id=profile_id, token=token, param=TOKEN_PARAM,
                     query=f"{TOKEN_PARAM}={token}", expires_at=expires)  # fmt: skip
