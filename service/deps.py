"""Typed access to what the lifespan built, for route handlers (``Annotated`` dependencies).

The lifespan yields ``{"components": Components}`` (:mod:`service.components`); each alias here
reaches one part of it. A test that mounts one router on a small app overrides the getter it
needs (``app.dependency_overrides[get_decider] = lambda: decider``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from content_pool.catalog import ContentCatalog
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore
from intent.interest.shared_taxonomy import SharedTaxonomy
from intent.service import IntentService
from intent.situation.reader import SituationReader
from personalization.automation.engine import Automation
from personalization.decisions.decider import Decider
from personalization.decisions.links import LinkSigner
from personalization.experiments.abtests import ABTests
from personalization.experiments.segments import ProfileSampler, Segments
from personalization.profiles.service import ProfileService
from service.auth import Role, require_admin, require_site
from service.backend import Backend, Deliveries, Store
from service.components import Components
from service.observability import Metrics
from service.readiness import Readiness
from service.settings import Settings

# async getters: a plain ``def`` dependency would cost a threadpool round trip per request


async def get_components(request: Request) -> Components:
    components: Components = request.state.components
    return components


ComponentsDep = Annotated[Components, Depends(get_components)]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_backend(components: ComponentsDep) -> Backend:
    return components.backend


async def get_store(components: ComponentsDep) -> Store:
    return components.store


async def get_readiness(components: ComponentsDep) -> Readiness:
    return components.readiness


async def get_profile_service(components: ComponentsDep) -> ProfileService:
    return components.profiles


async def get_decider(components: ComponentsDep) -> Decider:
    return components.decider


async def get_automation(components: ComponentsDep) -> Automation:
    return components.automation


async def get_deliveries(components: ComponentsDep) -> Deliveries:
    return components.deliveries


async def get_content_store(components: ComponentsDep) -> ContentStore:
    return components.content_store


async def get_renderer(components: ComponentsDep) -> Renderer:
    return components.content_renderer


async def get_content_catalog(components: ComponentsDep) -> ContentCatalog:
    """The content catalog: saves and lists through one path (API and console alike)."""
    return catalog_of(components)


def catalog_of(components: Components) -> ContentCatalog:
    """The catalog over this app's content store, renderer and live pool."""
    return ContentCatalog(
        components.content_store, components.content_renderer, components.content_pool,
        known_categories=components.taxonomy.known,
    )  # fmt: skip


async def get_content_pool(components: ComponentsDep) -> ContentPool:
    return components.content_pool


async def get_taxonomy(components: ComponentsDep) -> SharedTaxonomy:
    return components.taxonomy


async def get_situation_reader(components: ComponentsDep) -> SituationReader:
    return components.situation_reader


async def get_optional_intent_service(components: ComponentsDep) -> IntentService | None:
    return components.intent_service


async def get_link_signer(components: ComponentsDep) -> LinkSigner | None:
    return components.link_signer


async def get_segments(components: ComponentsDep) -> Segments:
    return components.segments


async def get_profile_sampler(components: ComponentsDep) -> ProfileSampler:
    return components.profile_sampler


async def get_abtests(components: ComponentsDep) -> ABTests:
    return components.abtests


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
BackendDep = Annotated[Backend, Depends(get_backend)]
StoreDep = Annotated[Store, Depends(get_store)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]
ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]
DeciderDep = Annotated[Decider, Depends(get_decider)]
AutomationDep = Annotated[Automation, Depends(get_automation)]
DeliveriesDep = Annotated[Deliveries, Depends(get_deliveries)]
ContentStoreDep = Annotated[ContentStore, Depends(get_content_store)]
CatalogDep = Annotated[ContentCatalog, Depends(get_content_catalog)]
RendererDep = Annotated[Renderer, Depends(get_renderer)]
ContentPoolDep = Annotated[ContentPool, Depends(get_content_pool)]
SituationReaderDep = Annotated[SituationReader, Depends(get_situation_reader)]
TaxonomyDep = Annotated[SharedTaxonomy, Depends(get_taxonomy)]
OptionalIntentServiceDep = Annotated[IntentService | None, Depends(get_optional_intent_service)]
LinkSignerDep = Annotated[LinkSigner | None, Depends(get_link_signer)]
SegmentsDep = Annotated[Segments, Depends(get_segments)]
ProfileSamplerDep = Annotated[ProfileSampler, Depends(get_profile_sampler)]
ABTestsDep = Annotated[ABTests, Depends(get_abtests)]
SiteRole = Annotated[Role, Depends(require_site)]
AdminRole = Annotated[Role, Depends(require_admin)]
