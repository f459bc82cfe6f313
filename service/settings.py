"""The one place Kairos reads its configuration: environment variables prefixed ``KAIROS_``.

Built by :func:`service.app.create_app` (never at import), so tests pass their own instance.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class SiteSettings(BaseModel):
    """One more website (``KAIROS_SITES``): its public key, its pages' origins and the secret
    its backend signs identities with."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr = Field(description="The site's public key (X-API-Key).")
    origins: list[str] = Field(min_length=1, description="Origins of the site's pages.")
    identity_secret: SecretStr = Field(description="Signs the site's identities (>= 16 bytes).")

    @model_validator(mode="after")
    def _secret_long_enough(self) -> SiteSettings:
        if len(self.identity_secret.get_secret_value().encode()) < 16:
            raise ValueError("a site's identity_secret needs at least 16 bytes")
        if "*" in self.origins:
            raise ValueError("list the site's origins, not '*'")
        return self


class Settings(BaseSettings):
    """Typed settings; every field can be set as ``KAIROS_<FIELD>`` (lists as JSON)."""

    model_config = SettingsConfigDict(env_prefix="KAIROS_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Store
    redis_url: str | None = Field(
        default=None, description="Redis URL; unset means the embedded in-process store."
    )
    redis_cluster: bool = Field(
        default=False, description="Treat redis_url as a node of a Redis Cluster."
    )
    store: Literal["redis", "memory"] | None = Field(
        default=None, description="`kairos serve` without redis_url: 'redis' starts a local "
        "redis-server keeping its data in var/redis (the default when one is installed), "
        "'memory' the embedded in-process store (nothing survives a restart).")
    redis_prefix: str = Field(default="kairos", pattern=r"^[A-Za-z0-9_.-]+$")
    redis_timeout_seconds: float = 2.0
    profile_ttl_days: float = Field(default=395, gt=0, description="Inactive profiles expire.")
    max_events_per_profile: int = Field(default=500, ge=10)
    decision_ttl_hours: float = Field(default=72, gt=0)

    # Access
    site_key: SecretStr | None = Field(
        default=None, description="Public key of the website (in every page): anonymous visitors "
        "and signed identities only.")
    server_key: SecretStr | None = Field(
        default=None, description="Key of the shop's backend or chatbot server: public routes, "
        "any profile_id, every event type.")
    admin_key: SecretStr | None = Field(default=None, description="Key for marketers and admins.")
    session_secret: SecretStr | None = Field(default=None, description="Signs console sessions.")
    identity_secret: SecretStr | None = Field(
        default=None, description="Signs X-Kairos-Identity tokens (>= 16 bytes), shared with the "
        "shop's backend.")
    identity_previous_secrets: list[SecretStr] = Field(
        default_factory=list, description="Older identity secrets still verified (rotation).")
    identity_max_lifetime_hours: float = Field(
        default=24, gt=0, le=24 * 30, description="Identity tokens expiring later are refused.")
    site_origins: list[str] | None = Field(
        default=None, description="Origins whose pages may call Kairos (CORS), as JSON; default: "
        "this service's own in development, none in production.")
    sites: list[SiteSettings] = Field(
        default_factory=list, description='More websites, as JSON [{"key", "origins", '
        '"identity_secret"}]: each key works only from its origins, with its own secret.')

    # Limits
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_batch_events: int = Field(default=500, ge=1, le=10_000)
    rate_limit_per_minute: int = Field(
        default=0, ge=0, description="Per server or admin key; 0 turns it off.")
    site_rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Per site key and client address; 0 turns it off.")

    # Situation
    internal_hosts: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["de", "en"])
    default_timezone: str = "Europe/Berlin"

    # Intent
    intent_encoder: str | None = Field(
        default="use", description="hashing, use, minilm or use+minilm; unset turns intent off."
    )
    intent_model_dir: Path = Field(default=Path("var/models"))
    intent_data: Path | None = Field(default=None, description="Training YAML; default: bundled.")
    taxonomy_file: Path | None = Field(
        default=None, description="Topic taxonomy YAML (interest of the moment); default: bundled."
    )

    # Content and decisions
    content_dir: Path | None = Field(
        default=PACKAGE_ROOT / "content_pool" / "demo",
        description="YAML content loaded at start when the content store is empty.",
    )
    holdout_share: float = Field(default=0.1, ge=0, le=0.5)

    # Decisions
    decision_policy: Literal["thompson", "epsilon_greedy", "greedy"] = Field(
        default="thompson",
        description="Bandit policy (personalization.decisions.policies.POLICIES).",
    )
    decision_policy_options: dict[str, bool | int | float | list[str]] = Field(
        default_factory=dict,
        description='Policy options as JSON, e.g. {"top_k": 5, "context_features": ["phase"]}.',
    )
    decision_seed: int | None = Field(default=None, description="Seed of the policy's RNG.")
    scoring_weights: dict[str, float] = Field(
        default_factory=dict,
        description=(
            'Overrides of personalization.decisions.ranking.ScoringWeights, e.g. {"phase": 0.4}.'
        ),
    )
    min_intent_confidence: float = Field(default=0.35, ge=0, le=1)
    holdout_salt: str = Field(default="kairos-holdout-v1", min_length=1)
    content_refresh_seconds: float = Field(
        default=30, ge=0, description="Each worker reloads the pool this often; 0 never."
    )

    # Profiles
    affinity_half_life_days: float = Field(default=30, gt=0, description="Interest fades by half.")
    max_affinities: int = Field(default=16, ge=1, le=100)
    lifecycle_new_customer_days: int = Field(default=30, ge=0)
    lifecycle_active_min_orders: int = Field(default=2, ge=1)
    lifecycle_loyal_min_orders: int = Field(default=5, ge=1)
    lifecycle_at_risk_days: int = Field(default=90, gt=0, description="No order: at risk.")
    lifecycle_lapsed_days: int = Field(default=365, gt=0, description="No order: lapsed.")
    lifecycle_sweep_minutes: float = Field(
        default=1440, ge=0, description="Re-evaluate every profile this often (time alone makes "
        "customers at_risk or lapsed and arms date programmes); 0 turns it off.")
    consent_defaults: list[Literal["personalisation", "analytics", "email", "sms", "push"]] = Field(
        default_factory=list, description="Purposes granted to new profiles until they object."
    )

    # Automation
    programmes_file: Path | None = Field(
        default=None, description="Programmes YAML loaded at start; default: the bundled set."
    )
    quiet_hours_start: time = Field(default=time(21, 0), description="Local time, per person.")
    quiet_hours_end: time = Field(default=time(8, 0), description="Equal to start: none.")
    weekly_contact_cap: int = Field(default=3, ge=1, description="Per person, channel and week.")
    weekly_contact_cap_total: int = Field(
        default=4, ge=1, description="Per person and week, across email, SMS and push.")
    action_lease_seconds: float = Field(default=60, gt=0, description="Claimed steps come back.")
    worker_batch_size: int = Field(default=200, ge=1, le=1000)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_in_app: bool | None = Field(
        default=None, description="Publish due steps inside the app; default: only without Redis."
    )
    reactions: Literal["inline", "worker"] | None = Field(
        default=None, description="Where automation, A/B goals and schedules react to events: "
        "'inline' before /v1/events answers, or 'worker' (a Redis Stream that `kairos worker` or "
        "the in-app worker consumes). Default: 'worker' with Redis, else 'inline'.")
    webhook_url: str | None = Field(default=None, description="Also POST each action here.")
    webhook_secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key.")
    webhook_max_tries: int = Field(default=5, ge=1, le=20)
    webhook_backoff_seconds: float = Field(default=1.0, gt=0, description="Before the 2nd try; "
                                           "doubles each try (with jitter), at most 15 minutes.")
    webhook_lease_seconds: float = Field(
        default=30, gt=0, description="A delivery held by a worker that died is retried after "
        "this; keep it above the POST timeout (5 s), or slow receivers get duplicates.")

    @field_validator("intent_data", "taxonomy_file", "content_dir", "programmes_file",
                     "schedules_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        """``KAIROS_CONTENT_DIR=`` (empty) means none, not the current directory."""
        return None if value == "" else value

    @property
    def reactions_in_worker(self) -> bool:
        """Whether listeners run from the change feed (see ``reactions``)."""
        if self.reactions is None:
            return self.redis_url is not None
        return self.reactions == "worker"

    @model_validator(mode="after")
    def _one_store(self) -> Settings:
        if self.store == "memory" and self.redis_url is not None:
            raise ValueError("KAIROS_STORE=memory and KAIROS_REDIS_URL contradict: unset one")
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("KAIROS_WEBHOOK_URL needs KAIROS_WEBHOOK_SECRET to sign requests")
        return self

    # Integration: imports, identifiable links, segments, A/B tests, sensitive data, schedules
    link_secret: SecretStr | None = Field(
        default=None, description="Signs newsletter link tokens (>= 16 bytes); unset: no links."
    )
    link_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,16}$")
    link_previous_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description='Older keys still verified, as JSON {"k0": "..."}.'
    )
    link_max_ttl_days: float = Field(default=365, gt=0)
    sensitive_categories: list[str] | None = Field(
        default=None,
        description="Sensitive categories; default: personalization.profiles.sensitivity.",
    )
    sensitive_consent_purpose: str = Field(default="sensitive", min_length=1)
    definitions_refresh_seconds: float = Field(
        default=10, ge=0, description="Workers reload segments and A/B tests this often."
    )
    segment_sample_size: int = Field(default=2000, ge=10, le=100_000)
    import_batch_size: int = Field(default=500, ge=1, le=10_000)
    max_import_bytes: int = Field(
        default=2_000_000_000, ge=1024, description="Upload limit of /v1/imports/*."
    )
    schedules_file: Path | None = Field(
        default=None, description="Programme schedules YAML (personalization.automation.schedules)."
    )

    @model_validator(mode="after")
    def _identity_secret_long_enough(self) -> Settings:
        secrets = [self.identity_secret, *self.identity_previous_secrets]
        if any(s is not None and len(s.get_secret_value().encode()) < 16 for s in secrets):
            raise ValueError("KAIROS_IDENTITY_SECRET (and previous secrets) need at least 16 bytes")
        return self

    @property
    def default_site_origins(self) -> list[str]:
        """The origins of ``site_key``'s pages: ``site_origins``, else this service's own in
        development."""
        if self.site_origins is not None:
            return self.site_origins
        if self.environment == "production":
            return []
        return ["http://127.0.0.1:8000", "http://localhost:8000"]

    @property
    def allowed_origins(self) -> list[str]:
        """The CORS origins: those of every site (a preflight carries no key to tell them
        apart; the request itself is refused when its key is not for its origin)."""
        every = [*self.default_site_origins, *(o for s in self.sites for o in s.origins)]
        return list(dict.fromkeys(every))

    @model_validator(mode="after")
    def _link_secret_long_enough(self) -> Settings:
        secrets = [self.link_secret, *self.link_previous_secrets.values()]
        if any(s is not None and len(s.get_secret_value()) < 16 for s in secrets):
            raise ValueError("KAIROS_LINK_SECRET (and previous secrets) need at least 16 bytes")
        return self

    # Surfaces: website snippet, chat, marketer console
    console_session_hours: float = Field(default=8, gt=0, le=24 * 7,
                                         description="A console login lasts this long.")
    chat_max_turns: int = Field(default=6, ge=1, le=50,
                                description="Turns of a chat conversation remembered.")
    chat_conversation_minutes: float = Field(
        default=30, gt=0, description="A chat conversation is forgotten after this silence."
    )

    # Service
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production":
            missing = [
                name
                for name in ("site_key", "server_key", "admin_key", "session_secret",
                             "identity_secret")
                if getattr(self, name) is None
            ]
            if missing:
                names = ", ".join(f"KAIROS_{m.upper()}" for m in missing)
                raise ValueError(f"production needs {names}")
            keys = [k.get_secret_value() for k in (self.site_key, self.server_key, self.admin_key)
                    if k is not None] + [site.key.get_secret_value() for site in self.sites]
            if len(set(keys)) != len(keys):
                raise ValueError("KAIROS_SITE_KEY, KAIROS_SERVER_KEY, KAIROS_ADMIN_KEY and the "
                                 "keys of KAIROS_SITES must differ")
            if "*" in self.allowed_origins:
                raise ValueError("KAIROS_SITE_ORIGINS: list the shop's origins, not '*'")
        return self
