"""The storage port: what the NGSI core asks of any backend, in NGSI terms (no SQL, no BSON).

Writes are conditional: `replace_entity` and `delete_entity` succeed only if the stored version
is still the one the caller read, so the core can do read-modify-write without locks and retry
on a conflict. `insert_entity` fails (returns False) when the key is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from broker.ngsi.consent import Consent
from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity
from broker.ngsi.registration import Owner, Registration
from broker.ngsi.selection import EntityFilter, OrderKey, Page, TypeSummary, Visibility
from broker.ngsi.subscription import Subscription, SubscriptionStatus


@dataclass
class OutboxRecord:
    """A notification owed to a subscription, stored in the same transaction as its change."""

    tenant: str
    subscription_id: str
    payload: dict[str, Any]  # the change's snapshot: one dict shared by the records of one change
    created: float = 0.0
    cbnotif: int = 1  # the notification's number within its request (Fiware-Correlator suffix)
    due: float = 0.0
    attempts: int = 0
    id: int = 0
    subject: str | None = None  # the data subject of a personal entity (erasure drops these)


@dataclass(frozen=True)
class Write:
    """One conditional write of a batch: `insert`, `replace` or `delete`."""

    action: str
    entity: Entity


class StorageUnavailable(Exception):
    """The database cannot be reached or failed; the core answers 500 and changes nothing."""


class StorageBusy(StorageUnavailable):
    """Too many operations already wait for the database in this process (storage.admission): the
    call did nothing and may be tried again later (HTTP 503)."""


Head = tuple[int, str]  # an access log's head: (records appended, hash of the last one)


# -- the roles a backend plays; `Storage` is all of them --------------------------------------


class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


class EntityStore(Protocol):
    """Entities and their types. Every entity write takes the notifications it owes (`outbox`):
    they are stored in the same transaction, so an acknowledged change never loses them."""

    async def query_entities(
        self,
        tenant: str,
        flt: EntityFilter,
        page: Page,
        *,
        order: tuple[OrderKey, ...] = (),
        count: bool = False,
    ) -> tuple[list[Entity], int | None]:
        """Entities matching `flt`, sorted by `order` then creation (or by distance for `near`),
        one page of them, and the total if asked. Ties never make paging repeat or skip."""
        ...

    async def write_batch(self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord] = ()) -> bool:
        """Apply every write in one transaction, or none of them when any is refused
        (a taken key for an insert, a changed version for a replace or delete)."""
        ...

    async def insert_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        """Store a new entity; False when one with the same id, type and service path exists."""
        ...

    async def replace_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        """Overwrite the stored entity whose version is `entity.version`; False on a conflict."""
        ...

    async def delete_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        """Delete the stored entity whose version is `entity.version`; False on a conflict."""
        ...

    async def delete_expired(self, now: float) -> int:
        """Delete, in every tenant, the transient entities whose `dateExpires` (a DateTime) is at or
        before `now`, without notifications (as Orion's TTL index does); how many went."""
        ...

    async def list_types(
        self,
        tenant: str,
        scopes: tuple[ServicePathScope, ...],
        page: Page,
        *,
        details: bool = True,
        visibility: Visibility | None = None,
    ) -> tuple[list[TypeSummary], int]:
        """Entity types in name order, one page of them, and how many types there are
        (only visible entities and attributes count)."""
        ...

    async def get_type(
        self,
        tenant: str,
        type_name: str,
        scopes: tuple[ServicePathScope, ...],
        *,
        visibility: Visibility | None = None,
    ) -> TypeSummary | None: ...


class SubscriptionStore(Protocol):
    """Subscriptions, their delivery counters and the outbox of notifications owed to them."""

    async def save_subscription(self, sub: Subscription) -> None:
        """Insert or replace it (by tenant and id); its delivery counters stay as stored."""
        ...

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        """Remove it and every notification still owed to it; False when there was none."""
        ...

    async def load_subscriptions(self) -> list[Subscription]:
        """Every subscription of every tenant, with its stored delivery counters; one that can
        no longer be read is logged and left out."""
        ...

    async def save_delivery(self, tenant: str, sub_id: str, delivery: SubscriptionStatus) -> None: ...

    async def get_delivery(self, tenant: str, sub_id: str) -> SubscriptionStatus | None:
        """The delivery counters as stored (the process that delivers may be another one); None
        when there is no such subscription or no counters were saved for it yet."""
        ...

    async def subscriptions_version(self) -> int:
        """A number that moves whenever a subscription is saved or deleted, by any process."""
        ...

    async def due_subscriptions(self, now: float) -> list[str]:
        """Subscriptions whose oldest owed notification is due by `now`."""
        ...

    async def pending_for(self, sub_id: str, limit: int) -> list[OutboxRecord]:
        """A subscription's owed notifications, oldest first (delivery keeps this order)."""
        ...

    async def finish_notifications(self, record_ids: list[int]) -> None: ...

    async def retry_notification(self, record_id: int, due: float, attempts: int) -> None: ...

    async def drop_notifications_of(self, tenant: str, subject: str) -> int:
        """Delete the queued notifications about a data subject's entities; how many."""
        ...

    async def outbox_size(self) -> int:
        """How many notifications are owed and not settled yet, of every tenant (Orion's
        `notifQueue.size`)."""
        ...


class LeaseStore(Protocol):
    """Several processes on one database: leases and throttling windows."""

    async def claim_lease(self, name: str, owner: str, token: str, until: float, now: float) -> bool:
        """Take the lease `name` for `owner` until `until` (epoch seconds) when it is free, expired
        at `now` or already `owner`'s; `token` names this claim for renewal and release."""
        ...

    async def renew_lease(self, name: str, token: str, until: float) -> bool:
        """Extend the claim `token` to `until`; False when it was lost (expired and taken)."""
        ...

    async def release_lease(self, name: str, token: str) -> None:
        """Give the claim `token` up; nothing happens when it is no longer held."""
        ...

    async def open_throttle_window(self, tenant: str, sub_id: str, now: float, throttling: float) -> bool:
        """True, and the subscription's throttling window starts at `now`, when the last window
        opened by any process is at least `throttling` seconds old (or there was none)."""
        ...

    async def close_throttle_window(self, tenant: str, sub_id: str, opened: float) -> None:
        """Undo `open_throttle_window` at `opened`: its write was abandoned, so the next change may
        notify at once. Nothing happens when another window was opened since."""
        ...


class RegistrationStore(Protocol):
    """Registrations of context providers."""

    async def save_registration(self, reg: Registration) -> None:
        """Create or replace the registration (by tenant and id)."""
        ...

    async def get_registration(self, tenant: str, reg_id: str) -> Registration | None: ...

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None, owned_by: Owner | None = None
    ) -> tuple[list[Registration], int]:
        """One page of the tenant's registrations (of exactly `service_path`, and created by
        `owned_by`, when given) in creation order, and how many there are."""
        ...

    async def delete_registration(self, tenant: str, reg_id: str) -> bool:
        """False when there was none."""
        ...

    async def change_registration(self, tenant: str, reg_id: str, changes: Mapping[str, Any]) -> bool:
        """Set the fields `changes` names (`Registration` field names among `CHANGEABLE`; None takes
        an optional one away) and only them, in one write: counters recorded meanwhile stay. False
        when there is no such registration."""
        ...

    async def record_forwarding(self, tenant: str, reg_id: str, *, ok: bool, at: float) -> None:
        """One request forwarded to the registration's provider at `at` (epoch seconds), answered as
        expected (`ok`) or not: atomically `times_sent` + 1, `last_forwarding` and `last_success` or
        `last_failure` = `at`, nothing else touched. A registration deleted meanwhile is no error."""
        ...


class PersonalTypeStore(Protocol):
    """The entity types declared personal, and the version a consent cache checks."""

    async def personal_types(self, tenant: str) -> dict[str, str]:
        """Declared personal types: type -> the attribute naming the data subject."""
        ...

    async def personal_state(self, tenant: str) -> tuple[dict[str, str], int]:
        """The personal types and a number that moves whenever a type or consent of the tenant
        changes, by any process: what a consent cache needs to know it is still right."""
        ...

    async def put_personal_type(self, tenant: str, type_name: str, subject_attr: str) -> None: ...

    async def delete_personal_type(self, tenant: str, type_name: str) -> bool: ...


class ConsentStore(Protocol):
    """Data subjects' consents, each tenant's apart."""

    async def save_consent(self, tenant: str, consent: Consent) -> None:
        """Insert or overwrite it (by tenant and id); an overwrite keeps its place in creation order."""
        ...

    async def get_consent(self, tenant: str, consent_id: str) -> Consent | None: ...

    async def find_consents(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        active_at: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[Consent], int]:
        """Consents in creation order; `active_at`: only those neither withdrawn nor expired then."""
        ...


class AccessLogReads(Protocol):
    """The access log as stored. Its chain (what `prev` and `hash` mean, how it is verified) is
    `broker.personal.access_log`'s; a store only keeps records, numbers them (`seq`) and keeps
    the head apart from them. Appending is one of the two protocols below."""

    async def read_access_log(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        since: float | None = None,
        until: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Records in append order (all of them when `page` is None), and how many match."""
        ...

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        """Seqs of records that a filtered read could miss because a stored field it filters on
        (outside the sealed record) disagrees with the record: what verification adds to the chain."""
        ...

    async def access_log_head(self, tenant: str) -> Head:
        """(records appended, hash of the last one), kept apart from the records themselves."""
        ...


@runtime_checkable
class ConditionalAccessLog(AccessLogReads, Protocol):
    async def append_access_log_if(self, tenant: str, head: Head, sealed: list[dict[str, Any]]) -> int:
        """Append records sealed after `head` (`broker.personal.access_log.link`), numbering them on
        from it, as long as the tenant's log still ends at `head` and then at each of them: how
        many went in, in order (fewer than all when another append came first; the caller seals
        the others again after the new head). The head moves past what went in. Acknowledged on
        return."""
        ...


@runtime_checkable
class SerialAccessLog(AccessLogReads, Protocol):
    async def append_access_log_serially(
        self, tenant: str, records: list[dict[str, Any]], *, wait: bool = True
    ) -> None:
        """Append records in order, linked after the head by `broker.personal.access_log.link`
        inside the transaction that appends them, where no other append can move the head (the
        records are the store's once handed over: it completes them in place). `wait=False`
        returns once they are handed over, in order; the store commits them soon after (within
        its flush interval), and before any read of the log."""
        ...


class SettingsStore(Protocol):
    async def setting(self, key: str, default: str) -> str:
        """A broker-wide setting; the first caller's `default` is stored and wins for everyone."""
        ...


class Storage(
    Lifecycle,
    EntityStore,
    SubscriptionStore,
    LeaseStore,
    RegistrationStore,
    PersonalTypeStore,
    ConsentStore,
    AccessLogReads,
    SettingsStore,
    Protocol,
):
    """Everything a backend offers: every role above, and one of the two access-log appends
    (`ConditionalAccessLog` or `SerialAccessLog`)."""
