"""Events: what sites, apps and bots report about a person, typed and validated.

Every event names its person by ``profile_id`` (known) or ``anonymous_id`` (cookie, device), or
both: an event that carries both says they are the same person, and the anonymous profile is merged
into the known one (:mod:`personalization.profiles.identity`). ``event_id`` is chosen by the client;
the store applies each id once per profile, so retries are safe. ``timestamp`` is when it happened
(timezone-aware; missing means "now").

``type`` selects the model and the shape of ``properties``:

========================  ============================================================
page_view                 url, title, category, topics
product_view              product_id, name, url, category, price, topics
search                    query, category
add_to_cart               product_id, name, category, quantity, price, currency
remove_from_cart          product_id, quantity (missing: all)
checkout_started          value, currency
purchase                  order_id, value, currency, items [{product_id, category, ...}]
email_open / push_open    campaign_id, category
email_click / sms_click   campaign_id, url, category
chat_message              topics, category (the text itself is not kept)
newsletter_signup         list_id
account_created / login   attributes (as in profile_update), method
consent_update            consents {purpose: granted}, source
profile_update            first_name, language, country, postcode, timezone, birthday, ...
custom                    name, category, data (small free-form map)
========================  ============================================================

Any event may also carry ``situation`` (the situation variables of the visit, e.g. device, source,
language, country) and ``intent`` (what the intent recogniser said about this interaction).

``inferred`` is written by Kairos, never taken from the caller: when a behavioural event names no
category but says what it is about (its ``url``, search ``query``, page ``title`` or product
``name``), the profile service reads the topics from that text and keeps them here, each with
its confidence (:class:`InferredTopic`), so the stored event says which affinities were inferred
and a replay adds exactly what the first application added.

:func:`~personalization.profiles.event_parsing.parse_events` validates a batch and reports each bad
event with its index and reason.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from personalization.profiles.ids import ProfileId

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]
"""A category or topic: lower-cased, trimmed, at most 64 characters."""
ShortText = Annotated[str, StringConstraints(max_length=256)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[float, Field(ge=0, le=1e9)]
Scalar = str | bool | int | float
Phase = Literal["explore", "consider", "purchase", "use", "churn", "unknown"]
Moment = Literal["know", "go", "do", "buy", "service", "problem", "unknown"]


class Purpose(StrEnum):
    """What a person can consent to, one by one."""

    personalisation = "personalisation"
    analytics = "analytics"
    email = "email"
    sms = "sms"
    push = "push"
    # Explicit consent to use interests in sensitive categories (health, pregnancy, finances...);
    # without it they never target, render or trigger anything
    # (personalization.profiles.sensitivity).
    sensitive = "sensitive"


class Channel(StrEnum):
    """Channels a person can prefer (and automation can use)."""

    email = "email"
    sms = "sms"
    push = "push"
    web = "web"
    app = "app"
    chat = "chat"
    mail = "mail"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentSignal(_Model):
    """What the intent recogniser said about the interaction this event reports."""

    intent: Label
    phase: Phase = "unknown"
    moment: Moment = "unknown"
    confidence: float = Field(default=1.0, ge=0, le=1)


class InferredTopic(_Model):
    """A topic Kairos read from an event's texts (not named by the caller), with its confidence."""

    category: Label
    confidence: float = Field(ge=0, le=1)


# -- properties per type --------------------------------------------------------------------------
class PageViewProperties(_Model):
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    title: ShortText | None = None
    category: Label | None = None
    topics: list[Label] = Field(default_factory=list, max_length=10)


class ProductViewProperties(_Model):
    product_id: EventId
    name: ShortText | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    category: Label | None = None
    price: Money | None = None
    topics: list[Label] = Field(default_factory=list, max_length=10)


class SearchProperties(_Model):
    query: ShortText
    category: Label | None = None


class CartItemProperties(_Model):
    product_id: EventId
    name: ShortText | None = None
    category: Label | None = None
    quantity: int = Field(default=1, ge=1, le=10_000)
    price: Money = 0.0
    currency: Currency | None = None


class RemoveFromCartProperties(_Model):
    product_id: EventId
    quantity: int | None = Field(default=None, ge=1, le=10_000)


class CheckoutProperties(_Model):
    value: Money | None = None
    currency: Currency | None = None


class PurchaseItem(_Model):
    product_id: EventId
    category: Label
    quantity: int = Field(default=1, ge=1, le=10_000)
    price: Money | None = None


class PurchaseProperties(_Model):
    order_id: EventId
    value: Money
    currency: Currency
    items: list[PurchaseItem] = Field(min_length=1, max_length=200)


class CampaignProperties(_Model):
    campaign_id: EventId | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    category: Label | None = None


class ChatMessageProperties(_Model):
    topics: list[Label] = Field(default_factory=list, max_length=10)
    category: Label | None = None


class NewsletterProperties(_Model):
    list_id: EventId | None = None


class AttributesUpdate(_Model):
    """Known attributes a person gives (or an admin corrects). ``null`` clears a field.

    ``postcode`` is not kept: only its region (the first two characters) is.
    """

    first_name: Annotated[str, StringConstraints(max_length=64)] | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    postcode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{2,10}$")] | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    birthday: date | None = None
    channel_preferences: list[Channel] | None = Field(default=None, max_length=7)


class AccountProperties(_Model):
    method: Annotated[str, StringConstraints(max_length=32)] | None = None
    attributes: AttributesUpdate | None = None


class ConsentProperties(_Model):
    consents: dict[Purpose, bool] = Field(min_length=1)
    source: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "user"


class CustomProperties(_Model):
    category: Label | None = None
    data: dict[Annotated[str, StringConstraints(max_length=64)], Scalar | None] = Field(
        default_factory=dict, max_length=20
    )


# -- events ---------------------------------------------------------------------------------------
class _EventBase(_Model):
    event_id: EventId
    profile_id: ProfileId | None = None
    anonymous_id: ProfileId | None = None
    session_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    timestamp: AwareDatetime | None = None
    situation: dict[Annotated[str, StringConstraints(max_length=32)], Scalar] | None = Field(
        default=None, max_length=16
    )
    intent: IntentSignal | None = None
    inferred: list[InferredTopic] | None = Field(default=None, max_length=5)

    @model_validator(mode="after")
    def _names_a_person(self) -> _EventBase:
        if self.profile_id is None and self.anonymous_id is None:
            raise ValueError("an event needs profile_id or anonymous_id")
        return self

    @property
    def subject(self) -> str:
        """The id of the profile this event is about: the known id if any, else the anonymous."""
        subject = self.profile_id or self.anonymous_id
        assert subject is not None
        return subject

    @property
    def merges(self) -> tuple[str, str] | None:
        """``(anonymous_id, profile_id)`` when this event says both belong to one person."""
        if self.profile_id and self.anonymous_id and self.profile_id != self.anonymous_id:
            return self.anonymous_id, self.profile_id
        return None

    def at(self, now: datetime) -> datetime:
        """When it happened, never later than ``now`` (clients' clocks run fast)."""
        return min(self.timestamp, now) if self.timestamp is not None else now


class PageView(_EventBase):
    type: Literal["page_view"]
    properties: PageViewProperties = Field(default_factory=PageViewProperties)


class ProductView(_EventBase):
    type: Literal["product_view"]
    properties: ProductViewProperties


class Search(_EventBase):
    type: Literal["search"]
    properties: SearchProperties


class AddToCart(_EventBase):
    type: Literal["add_to_cart"]
    properties: CartItemProperties


class RemoveFromCart(_EventBase):
    type: Literal["remove_from_cart"]
    properties: RemoveFromCartProperties


class CheckoutStarted(_EventBase):
    type: Literal["checkout_started"]
    properties: CheckoutProperties = Field(default_factory=CheckoutProperties)


class Purchase(_EventBase):
    type: Literal["purchase"]
    properties: PurchaseProperties


class EmailOpen(_EventBase):
    type: Literal["email_open"]
    properties: CampaignProperties = Field(default_factory=CampaignProperties)


class EmailClick(_EventBase):
    type: Literal["email_click"]
    properties: CampaignProperties = Field(default_factory=CampaignProperties)


class SmsClick(_EventBase):
    type: Literal["sms_click"]
    properties: CampaignProperties = Field(default_factory=CampaignProperties)


class PushOpen(_EventBase):
    type: Literal["push_open"]
    properties: CampaignProperties = Field(default_factory=CampaignProperties)


class ChatMessage(_EventBase):
    type: Literal["chat_message"]
    properties: ChatMessageProperties = Field(default_factory=ChatMessageProperties)


class NewsletterSignup(_EventBase):
    type: Literal["newsletter_signup"]
    properties: NewsletterProperties = Field(default_factory=NewsletterProperties)


class AccountCreated(_EventBase):
    type: Literal["account_created"]
    properties: AccountProperties = Field(default_factory=AccountProperties)


class Login(_EventBase):
    type: Literal["login"]
    properties: AccountProperties = Field(default_factory=AccountProperties)


class ConsentUpdate(_EventBase):
    type: Literal["consent_update"]
    properties: ConsentProperties


class ProfileUpdate(_EventBase):
    type: Literal["profile_update"]
    properties: AttributesUpdate


class Custom(_EventBase):
    type: Literal["custom"]
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    properties: CustomProperties = Field(default_factory=CustomProperties)


Event = Annotated[
    PageView | ProductView | Search | AddToCart | RemoveFromCart | CheckoutStarted | Purchase
    | EmailOpen | EmailClick | SmsClick | PushOpen | ChatMessage | NewsletterSignup
    | AccountCreated | Login | ConsentUpdate | ProfileUpdate | Custom,
    Field(discriminator="type"),
]
"""Any event; ``type`` selects the model."""

EVENT_TYPES: tuple[str, ...] = (
    "page_view", "product_view", "search", "add_to_cart", "remove_from_cart",
    "checkout_started", "purchase", "email_open", "email_click", "sms_click", "push_open",
    "chat_message", "newsletter_signup", "account_created", "login", "consent_update",
    "profile_update", "custom",
)
