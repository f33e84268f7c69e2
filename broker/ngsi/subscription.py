"""The subscription domain model, shaped after Orion's NGSI-v2 subscription resource.

Times are float epoch seconds; `None` means "not set". Read-only counters (`times_sent`, ...) are
kept in `SubscriptionStatus`, apart from what the client writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker.ngsi.geo import GeoQuery
from broker.ngsi.query.ast import Query

ALTERATION_TYPES = ("entityCreate", "entityUpdate", "entityChange", "entityDelete")
DEFAULT_ALTERATION_TYPES = ("entityCreate", "entityChange")
ATTRS_FORMATS = ("normalized", "simplifiedNormalized", "keyValues", "simplifiedKeyValues", "values")


@dataclass(frozen=True)
class EntityPattern:
    """One `subject.entities` item: `id` or `idPattern`, optional `type` or `typePattern`."""

    id: str | None = None
    id_pattern: str | None = None
    type: str | None = None
    type_pattern: str | None = None


@dataclass(frozen=True)
class Condition:
    attrs: tuple[str, ...] = ()
    q: str | None = None  # the texts as given (rendered back as such) ...
    mq: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coords: str | None = None
    jexl: str | None = None  # `expression.jexlExpression`: the subscription fires only when it is true
    q_ast: Query | None = None  # ... and parsed, for matching
    mq_ast: Query | None = None
    geo: GeoQuery | None = None
    alteration_types: tuple[str, ...] = ()  # empty: Orion's default (entityCreate, entityChange)
    notify_on_metadata_change: bool = True


@dataclass(frozen=True)
class HttpTarget:
    """`http` or `httpCustom` (custom=True): where and how a notification is POSTed."""

    url: str
    custom: bool = False
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    qs: dict[str, str] = field(default_factory=dict)
    payload: str | None = None  # httpCustom text payload; `payload_set` with None means null (empty body)
    payload_set: bool = False
    json: Any = None  # httpCustom json payload
    ngsi: dict[str, Any] | None = None  # httpCustom ngsi patch
    timeout: int | None = None  # ms


@dataclass(frozen=True)
class MqttTarget:
    """`mqtt` or `mqttCustom` (custom=True)."""

    url: str
    topic: str
    qos: int = 0
    retain: bool = False
    user: str | None = None
    passwd: str | None = None
    custom: bool = False
    payload: str | None = None
    payload_set: bool = False
    json: Any = None
    ngsi: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notification:
    target: HttpTarget | MqttTarget
    attrs: tuple[str, ...] = ()
    except_attrs: tuple[str, ...] = ()
    attrs_format: str = "normalized"
    metadata: tuple[str, ...] = ()
    only_changed_attrs: bool = False
    covered: bool = False
    max_fails_limit: int | None = None


@dataclass
class SubscriptionStatus:
    """What Orion keeps about delivery; shown read-only in the subscription."""

    times_sent: int = 0
    last_notification: float | None = None
    last_success: float | None = None
    last_success_code: int | None = None
    last_failure: float | None = None
    last_failure_reason: str | None = None
    fails_counter: int = 0


@dataclass
class Subscription:
    id: str
    tenant: str
    service_path: str  # the creator's service path (Orion: `/#`-style scope when given as such)
    entities: tuple[EntityPattern, ...]
    condition: Condition
    notification: Notification
    description: str | None = None
    status: str = "active"  # active, inactive, oneshot (stored); expired/failed are shown, not stored
    expires: float | None = None
    throttling: int | None = None  # seconds
    owner: str | None = None  # the principal that created it (personal data, issue 7)
    owner_roles: tuple[str, ...] = ()  # its roles then: notifications follow the rule of its reads
    created_at: float = 0.0
    delivery: SubscriptionStatus = field(default_factory=SubscriptionStatus)
