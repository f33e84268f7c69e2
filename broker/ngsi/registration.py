"""The registration domain model, shaped after Orion's NGSI-v2 registration resource."""

from __future__ import annotations

from dataclasses import dataclass

FORWARDING_MODES = ("all", "none", "query", "update")
# the fields a PATCH may change (`dataProvided` and the service path stay what they were created with)
CHANGEABLE = frozenset({"description", "url", "forwarding_mode", "legacy_forwarding", "expires", "status"})


@dataclass(frozen=True)
class Owner:
    """A registration's creator as a filter: `principal` None is the unauthenticated one."""

    principal: str | None


@dataclass(frozen=True)
class ProvidedEntity:
    """One `dataProvided.entities` item: `id`, or `idPattern` (Orion takes only `.*`), and an optional `type`."""

    id: str | None = None
    id_pattern: str | None = None
    type: str | None = None


@dataclass
class Registration:
    """A context provider's registration: what it provides (`dataProvided`) and where (`provider`)."""

    id: str
    tenant: str
    service_path: str  # the creator's Fiware-ServicePath, `/` without one
    entities: tuple[ProvidedEntity, ...]
    attrs: tuple[str, ...]  # empty: every attribute
    url: str  # provider.http.url
    forwarding_mode: str = "all"
    legacy_forwarding: bool = False
    description: str | None = None
    expires: float | None = None  # None: permanent
    status: str | None = None  # as given; shown "active" when None
    owner: str | None = None  # the principal that created it (None without authentication)
    owner_roles: tuple[str, ...] = ()  # its roles then: what forwarding may carry follows them
    # forwarding counters (`forwardingInformation`), kept by the store with field-level updates
    times_sent: int = 0  # requests sent to the provider
    last_forwarding: float | None = None  # epoch seconds of the last request sent
    last_success: float | None = None  # of the last one answered as expected
    last_failure: float | None = None  # of the last one that failed (transport, status, body)
