"""The personal-data policy at the engine boundary: consulted once per read, write and notification.

Reads get the caller's `Visibility` ANDed into the storage query and their results projected to
the consented attributes, and every personal entity disclosed is handed to the access log before
the answer leaves. Writes need the subject's `write` consent. Tenants that declare no personal type
pay one small read per request and behave exactly as Orion.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from broker.ngsi.consent import Consent
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Entity
from broker.ngsi.selection import EntityFilter
from broker.personal import access_log, access_log_append
from broker.personal.auth import forbidden, unauthorized
from broker.personal.policy import SELF, Access, View, build_view, narrow
from broker.storage.port import Storage

MAX_CACHED_VIEWS = 4096
TYPES_MAX_AGE = 0.5  # seconds a copy of the personal types may serve the write path
TOKEN_NEEDED = "a valid bearer token is needed for personal data"


class PersonalGuard:
    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock
        # (tenant, principal, roles, operation) -> (store's personal version, view, valid until)
        self._views: OrderedDict[tuple, tuple[int, View, float]] = OrderedDict()
        self._types: dict[str, tuple[float, dict[str, str]]] = {}  # tenant -> (read at, personal types)

    async def view(self, ctx: RequestContext, operation: str) -> View | None:
        """The caller's view of the tenant's personal types; None when the tenant declares none.

        Views are cached until the store's personal version moves (any consent or type change, by
        any process: the version is read on every call) or the first of their consents expires.
        """
        personal, version = await self.storage.personal_state(ctx.tenant)
        if not personal:
            return None
        now = self.clock()
        key = (ctx.tenant, ctx.principal, ctx.roles, operation)
        cached = self._views.get(key)
        if cached is not None and cached[0] == version and now < cached[2]:
            self._views.move_to_end(key)
            return cached[1]
        consents: list[Consent] = []
        if ctx.principal is not None:
            consents, _ = await self.storage.find_consents(ctx.tenant, recipient=ctx.principal, active_at=now)
        view = build_view(personal, consents, principal=ctx.principal, roles=ctx.roles, operation=operation, now=now)
        valid_until = min((c.expires for c in consents if c.expires is not None), default=float("inf"))
        self._views[key] = (version, view, valid_until)
        if len(self._views) > MAX_CACHED_VIEWS:
            self._views.popitem(last=False)
        return view

    async def restrict(
        self, ctx: RequestContext, flt: EntityFilter, operation: str = "read"
    ) -> tuple[EntityFilter, View | None]:
        """The filter with the caller's visibility ANDed in (401 when it names a personal type anonymously)."""
        view = await self.view(ctx, operation)
        if view is None:
            return flt, None
        if ctx.principal is None and any(view.is_personal(t) for t in flt.types):
            raise unauthorized(TOKEN_NEEDED)
        return dataclasses.replace(flt, visibility=view.visibility()), view

    async def disclose(
        self, ctx: RequestContext, view: View | None, entities: list[Entity], channel: str = "query"
    ) -> list[Entity]:
        """The entities as the caller may see them; each personal one is logged before it is shown."""
        if view is None:
            return entities
        shown: list[Entity] = []
        records = []
        now = self.clock()
        for entity in entities:
            access = view.access_to(entity)
            if access is None:
                continue
            shown.append(narrow(entity, access))
            if access.consents and SELF not in access.consents:  # personal, and not the caller's own
                subject = view.subject(entity) or ""
                records.append(
                    self._record(
                        ctx.tenant, ctx.principal or "", subject, shown[-1], access, channel, ctx.correlator, now
                    )
                )
        await self.log(ctx.tenant, records, wait=False)
        return shown

    def check_write(self, ctx: RequestContext, view: View | None, entity: Entity, request_attrs: Iterable[str]) -> None:
        """403 unless the entity's subject lets the caller write it (and the attributes named)."""
        if view is None or not view.is_personal(entity.type):
            return
        if ctx.principal is None:
            raise unauthorized(TOKEN_NEEDED)
        access = view.access_to(entity)
        if access is None:
            raise forbidden("no active write consent from the data subject of this entity")
        hidden = [a for a in request_attrs if not access.shows(a)]
        if hidden:
            raise forbidden(f"the write consent does not cover: [ {', '.join(hidden)} ]")

    # -- notifications -----------------------------------------------------------------------
    async def personal_types(self, tenant: str, *, max_age: float = 0.0) -> dict[str, str]:
        """The tenant's personal types, read again when the copy held is older than `max_age`.

        The write path (matching changes to subscriptions) accepts a copy up to `TYPES_MAX_AGE`
        old; delivery always reads afresh and treats a type declared since as personal, so a
        stale copy never lets a personal entity out unchecked.
        """
        now = time.monotonic()
        held = self._types.get(tenant)
        if held is not None and now - held[0] <= max_age:
            return held[1]
        personal, _ = await self.storage.personal_state(tenant)
        self._types[tenant] = (now, personal)
        return personal

    def forget_types(self, tenant: str) -> None:
        """This process changed the tenant's personal types: no copy of them is current any more."""
        self._types.pop(tenant, None)

    async def audience(self, tenant: str, entity_type: str, subject: str) -> Audience:
        """Who may receive this subject's entities of this type now (the consents active now)."""
        now = self.clock()
        consents, _ = await self.storage.find_consents(tenant, subject=subject, active_at=now)
        return Audience(entity_type, subject, consents, now)

    async def notification_access(
        self, tenant: str, entity_type: str, subject: str, principal: str | None, roles: Iterable[str]
    ) -> Access | None:
        """What a subscription created by `principal` (with `roles`) may receive of this subject's
        entity now; None: nothing, the entity does not exist for it."""
        if principal is None:
            return None
        return (await self.audience(tenant, entity_type, subject)).access(principal, roles)

    def notification_record(
        self,
        tenant: str,
        recipient: str,
        subject: str,
        entity: Entity,
        access: Access,
        correlator: str,
        channel: str = "notification",
    ) -> dict | None:
        """The access-log record of a disclosure to a subscription's or a registration's owner
        (`channel` "forwarding"); None when the data is the recipient's own."""
        if SELF in access.consents:
            return None
        return self._record(tenant, recipient, subject, entity, access, channel, correlator, self.clock())

    async def log(self, tenant: str, records: list[dict], *, wait: bool = True) -> None:
        """Append to the access log. Reads pass `wait=False`: the records are handed over, in order,
        before the answer leaves, and committed soon after (the store batches them) instead of
        delaying it."""
        if records:
            await access_log_append.append(self.storage, tenant, records, wait=wait)

    @staticmethod
    def _record(
        tenant: str,
        recipient: str,
        subject: str,
        entity: Entity,
        access: Access,
        channel: str,
        correlator: str,
        now: float,
    ) -> dict:
        return access_log.disclosure(
            time=now,
            tenant=tenant,
            recipient=recipient,
            subject=subject,
            entity_id=entity.id,
            entity_type=entity.type,
            attrs=list(entity.attrs),
            consents=access.consents,
            channel=channel,
            correlator=correlator,
        )


@dataclass(frozen=True)
class Audience:
    """One subject's consents for one personal type, as they stand at `now`. Who receives a
    notification about the entity is decided by `build_view`, the rule that decides reads: a
    subscription sees the entity exactly when its creator's GET would."""

    entity_type: str
    subject: str
    consents: list[Consent]
    now: float

    def access(self, principal: str | None, roles: Iterable[str]) -> Access | None:
        if principal is None:
            return None
        view = build_view(
            {self.entity_type: ""},
            self.consents,
            principal=principal,
            roles=tuple(roles),
            operation="read",
            now=self.now,
        )
        return view.access.get((self.entity_type, self.subject))
