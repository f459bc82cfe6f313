"""Consent gating: without personalisation consent a decision sees no profile."""

from __future__ import annotations

from personalization.profiles.consent import allows, allows_channel, profile_for_decision
from personalization.profiles.events import Channel, Event, Purpose
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.reducer import apply_events
from tests.personalization.profile_factories import T0, make_event


def _consent(**consents: bool) -> list[Event]:
    return [make_event("consent_update", properties={"consents": consents})]


def test_no_consent_means_no_profile_for_decisions() -> None:
    profile = apply_events(None, [make_event("page_view", properties={"category": "boots"})],
                           now=T0, policy=ProfilePolicy())
    assert not allows(profile, Purpose.personalisation)
    assert profile_for_decision(profile) is None
    assert profile_for_decision(None) is None


def test_granted_and_withdrawn_personalisation() -> None:
    policy = ProfilePolicy()
    granted = apply_events(None, _consent(personalisation=True), now=T0, policy=policy)
    assert profile_for_decision(granted) is granted
    withdrawn = apply_events(granted, _consent(personalisation=False), now=T0, policy=policy)
    assert profile_for_decision(withdrawn) is None


def test_channels_need_their_own_consent_and_on_site_needs_none() -> None:
    profile = apply_events(None, _consent(email=True, sms=False), now=T0, policy=ProfilePolicy())
    assert allows_channel(profile, Channel.email)
    assert not allows_channel(profile, Channel.sms)
    assert not allows_channel(profile, Channel.push)
    assert allows_channel(profile, Channel.web)


def test_newsletter_signup_grants_email() -> None:
    profile = apply_events(None, [make_event("newsletter_signup")], now=T0, policy=ProfilePolicy())
    assert allows(profile, Purpose.email)
    assert profile.consent[Purpose.email].source == "newsletter_signup"


def test_deployment_defaults_are_written_into_new_profiles() -> None:
    policy = ProfilePolicy(consent_defaults=frozenset({Purpose.personalisation}))
    profile = apply_events(None, [make_event("login")], now=T0, policy=policy)
    assert profile.consent[Purpose.personalisation].source == "default"
    assert profile_for_decision(profile) is profile
    objected = apply_events(profile, _consent(personalisation=False), now=T0, policy=policy)
    assert profile_for_decision(objected) is None
