"""Consent per purpose, and the gate every decision goes through.

Purposes: ``personalisation`` (use the profile to choose content and actions), ``analytics``,
and one per contact channel: ``email``, ``sms``, ``push``. A purpose nobody asked about is not
granted, unless the deployment grants it by default (``ProfilePolicy.consent_defaults``); such a
default is written into the profile when it is created, with source ``"default"``, so that reading
a profile always tells the whole story.

Without personalisation consent a decision uses the situation only: call
:func:`profile_for_decision` and treat ``None`` like an anonymous visitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from personalization.profiles.events import Channel, Purpose

if TYPE_CHECKING:
    from personalization.profiles.profile import Profile

__all__ = ["CHANNEL_PURPOSE", "Purpose", "allows", "allows_channel", "profile_for_decision"]

CHANNEL_PURPOSE: dict[Channel, Purpose] = {
    Channel.email: Purpose.email,
    Channel.sms: Purpose.sms,
    Channel.push: Purpose.push,
}
"""Channels that need their own consent before a person is contacted through them."""


def allows(profile: Profile | None, purpose: Purpose) -> bool:
    """Whether the person granted ``purpose`` (no profile: no consent)."""
    if profile is None:
        return False
    entry = profile.consent.get(purpose)
    return entry is not None and entry.granted


def allows_channel(profile: Profile | None, channel: Channel) -> bool:
    """Whether automation may contact the person through ``channel``.

    Channels without a purpose of their own (on-site, chat, app) need none; the others need theirs.
    """
    purpose = CHANNEL_PURPOSE.get(channel)
    return purpose is None or allows(profile, purpose)


def profile_for_decision(profile: Profile | None) -> Profile | None:
    """The profile a decision may use: itself with personalisation consent, else ``None``."""
    return profile if allows(profile, Purpose.personalisation) else None
