"""Building the integration components in the lifespan: links, segments, A/B tests, schedules.

:func:`start` is called from the app's lifespan after the profile service, the decider and the
automation exist; it adds to ``state``:

``definitions``
    the shared store of segment and A/B test definitions (Redis hash per kind, or in process);
``link_signer``
    the :class:`~personalization.decisions.links.LinkSigner`, or ``None`` without
    ``KAIROS_LINK_SECRET``;
``sensitivity``
    the :class:`~personalization.profiles.sensitivity.SensitivityPolicy`;
``segments`` / ``profile_sampler``
    :class:`~personalization.experiments.segments.Segments` and the sampler for size estimates;
``abtests``
    :class:`~personalization.experiments.abtests.ABTests`, also a profile-service listener that
    counts ingested events (a purchase is a ``conversion``) as goals of the tests people saw;
``schedules``
    :class:`~personalization.automation.schedules.Schedules`, registered as a profile-service
    listener (after the automation) when ``KAIROS_SCHEDULES_FILE`` names a file.

It also draws the creepiness line in the decider it finds: the decider's profile source becomes
a :class:`~personalization.decisions.decider.ConsentedProfiles` with the sensitivity policy.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import yaml

from personalization.automation.schedules import Schedules, parse_schedules
from personalization.clock import system_clock
from personalization.decisions.decider import ConsentedProfiles
from personalization.decisions.links import LinkSigner
from personalization.experiments.abtests import ABTests
from personalization.experiments.definitions import MemoryDefinitions, RedisDefinitions
from personalization.experiments.segments import MemoryProfileSampler, RedisProfileSampler, Segments
from personalization.profiles.sensitivity import (
    DEFAULT_SENSITIVE_CATEGORIES,
    SensitivityPolicy,
)
from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore
from service.settings import Settings

log = logging.getLogger("kairos.integration")


def link_signer(settings: Settings) -> LinkSigner | None:
    """The link signer of ``settings``, or ``None`` when no link secret is configured."""
    if settings.link_secret is None:
        return None
    keys = {key_id: s.get_secret_value().encode()
            for key_id, s in settings.link_previous_secrets.items()}  # fmt: skip
    keys[settings.link_key_id] = settings.link_secret.get_secret_value().encode()
    return LinkSigner(keys, current=settings.link_key_id,
                      max_ttl=timedelta(days=settings.link_max_ttl_days))  # fmt: skip


def sensitivity_policy(settings: Settings) -> SensitivityPolicy:
    categories = settings.sensitive_categories
    return SensitivityPolicy(
        categories=frozenset(categories) if categories is not None
        else DEFAULT_SENSITIVE_CATEGORIES,
        consent_purpose=settings.sensitive_consent_purpose,
    )  # fmt: skip


async def start(settings: Settings, state: dict[str, Any]) -> None:
    """Build the components listed in the module docstring into ``state``."""
    store: MemoryStore | RedisStore = state["store"]
    refresh = timedelta(seconds=settings.definitions_refresh_seconds)
    if isinstance(store, RedisStore):
        definitions: MemoryDefinitions | RedisDefinitions = RedisDefinitions(
            store.redis, settings.redis_prefix
        )
        sampler: MemoryProfileSampler | RedisProfileSampler = RedisProfileSampler(
            store.redis, settings.redis_prefix
        )
    else:
        definitions, sampler = MemoryDefinitions(), MemoryProfileSampler(store)
    sensitivity = sensitivity_policy(settings)
    segments = Segments(definitions, sensitivity=sensitivity, refresh=refresh)
    state.update(
        definitions=definitions,
        link_signer=link_signer(settings),
        sensitivity=sensitivity,
        segments=segments,
        profile_sampler=sampler,
        abtests=ABTests(definitions, counters=store, records=store, refresh=refresh),
    )
    if state["link_signer"] is None:
        log.info("no KAIROS_LINK_SECRET: newsletter link tokens are off")

    profiles = state.get("profiles")
    if profiles is not None:
        profiles.add_listener(state["abtests"])  # event goals (purchase = conversion)
    decider = state.get("decider")
    if decider is not None:
        if profiles is not None:
            decider.profiles = ConsentedProfiles(profiles, clock=system_clock,
                                                 sensitivity=sensitivity)
        decider.abtests = state["abtests"]  # a running test owns its slot
        decider.segments = segments  # content audiences may name segments
        decider.sensitivity = sensitivity  # sensitive interests are never rendered

    planner, scheduler = state.get("next_action_planner"), state.get("scheduler")
    if planner is not None:
        planner.sensitivity = sensitivity
    if settings.schedules_file is not None and planner is not None and scheduler is not None:
        data = yaml.safe_load(settings.schedules_file.read_text(encoding="utf-8"))
        schedules = Schedules(parse_schedules(data), planner, scheduler,
                              sensitivity=sensitivity, segments=segments)  # fmt: skip
        state["schedules"] = schedules
        if profiles is not None:
            profiles.add_listener(schedules)
