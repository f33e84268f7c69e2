"""Context providers in the use cases: reads completed by them, updates routed to them.

The entity and batch use cases call this once per request; it decides with the registrations
(`registrations.routing`), asks the providers (`registrations.forwarder`) and applies the
personal-data rule: an entity of a personal type goes to a provider, or is asked of one, only when
the registration's creator may receive it (the rule of notifications: its owner's read consents,
`PersonalGuard.notification_access`), and each such disclosure is logged. What providers answer
about personal entities passes through the caller's own view like local data (`PersonalGuard.disclose`
in the entity use case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from broker.ngsi.context import RequestContext
from broker.ngsi.errors import NgsiError, entity_not_found
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.options import DEFAULT_LIMIT
from broker.ngsi.registration import Registration
from broker.ngsi.selection import EntityFilter, Page, subject_of
from broker.personal.auth import forbidden
from broker.personal.guard import PersonalGuard
from broker.registrations import routing
from broker.registrations.directory import RegistrationDirectory
from broker.registrations.forwarder import Forwarder
from broker.registrations.routing import QueryTarget, UpdateTarget

NO_CONSENT = "the data subject's consents do not let this data go to the context provider"


@dataclass
class RoutedUpdate:
    """An update split between this broker (`kept`, per entity) and providers (`targets`)."""

    kept: list[dict[str, Attribute]] = field(default_factory=list)
    targets: dict[str, UpdateTarget] = field(default_factory=dict)

    @property
    def forwards(self) -> bool:
        return bool(self.targets)


@dataclass
class UpdateReport:
    """What the providers did with an update: the attributes they did not take, per entity."""

    failed: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)
    applied: bool = False

    def fail(self, entity_id: str, entity_type: str | None, names: Sequence[str]) -> None:
        self.failed.setdefault((entity_id, entity_type), []).extend(names)


def update_error(report: UpdateReport, local_applied: bool) -> NgsiError | None:
    """Orion's answer to an update that was forwarded: 204 when everything was taken; 404 NotFound
    when nothing was; else 404 PartialUpdate naming what was not (`{ E-T : [A, B] }`)."""
    if not report.failed:
        return None
    if not report.applied and not local_applied:
        return entity_not_found()
    parts = ", ".join(f"{eid}-{etype or ''} : [{', '.join(names)}]" for (eid, etype), names in report.failed.items())
    return NgsiError(404, "PartialUpdate", f"Some of the following attributes were not updated: {{ {parts} }}")


class ContextProviders:
    def __init__(
        self,
        directory: RegistrationDirectory,
        forwarder: Forwarder,
        guard: PersonalGuard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.forwarder = forwarder
        self.guard = guard
        self.clock = clock

    # -- reads -----------------------------------------------------------------------------
    async def query_registrations(self, ctx: RequestContext) -> list[Registration]:
        """The registrations a read of this request may forward to (none: local data only); read
        once per request and handed to `complete_list`."""
        if ctx.skip_forwarding or not self.forwarder.allowed(ctx):
            return []
        regs = await self.directory.registrations(ctx.tenant)
        return routing.for_query(regs, ctx.scopes, self.clock()) if regs else []

    async def complete_entity(
        self,
        ctx: RequestContext,
        entity_id: str,
        entity_type: str | None,
        attrs: Sequence[str] | None,
        local: Entity | None,
    ) -> Entity | None:
        """The entity read by id, with what its providers have and this broker lacks."""
        regs = await self.query_registrations(ctx)
        if not regs:
            return local
        targets = routing.plan_entity(regs, entity_id, entity_type, attrs, local)
        targets = routing.merge_queries(
            await self._consented_queries(ctx, targets, [local] if local is not None else [])
        )
        if not targets:
            return local
        # Orion's page: its default limit less the entity found here (the provider completes it)
        answers = await self.forwarder.query(ctx, targets, limit=DEFAULT_LIMIT - (local is not None))
        remote = [e for a in answers for e in a.entities]
        return routing.merge_entity(local, remote, entity_id, entity_type)

    async def complete_list(
        self,
        ctx: RequestContext,
        regs: list[Registration],
        flt: EntityFilter,
        attrs: Sequence[str] | None,
        page: Page,
        local: list[Entity],
        local_total: int | None,
    ) -> tuple[list[Entity], int | None]:
        """A page of entities: the local ones first, completed, then the providers' (Orion's order).

        Providers get `limit` minus the local entities shown and `offset` minus the local total, as
        Orion sends them; they are asked at once, so each gets the same window and the union is cut
        to `limit`. The total adds what providers report for pattern queries, less the entities of
        theirs held here too (those on this page: a provider completing local entities adds none),
        and the entities they alone have for queries by id: an approximation (see the README).
        `regs`: `query_registrations` of the request."""
        targets = routing.merge_queries(
            await self._consented_queries(ctx, routing.plan_list(regs, flt, attrs, local), local)
        )
        if not targets:
            return local, local_total
        known = local_total if local_total is not None else len(local)
        answers = await self.forwarder.query(
            ctx, targets, limit=max(page.limit - len(local), 0), offset=max(page.offset - known, 0)
        )
        merged = routing.merge_list(local, [e for a in answers for e in a.entities], flt)
        total = None
        if local_total is not None:
            new = {(e.id, e.type) for e in merged[len(local) :]}
            by_pattern = [a for a in answers if a.ok and a.target.entity.id is None]
            reported = sum(a.total or len(a.entities) for a in by_pattern)
            held = {(e.id, e.type) for a in by_pattern for e in a.entities} & {(e.id, e.type) for e in local}
            by_id = {(e.id, e.type) for a in answers if a.target.entity.id is not None for e in a.entities} & new
            total = local_total + max(reported - len(held), 0) + len(by_id)
        return merged[: max(page.limit, len(local))], total

    async def _consented_queries(
        self, ctx: RequestContext, targets: list[QueryTarget], local: Sequence[Entity]
    ) -> list[QueryTarget]:
        """The targets that may leave: any of an open type; of a personal type, only about an entity
        held here whose subject lets the registration's owner read it (logged as a disclosure)."""
        if not targets:
            return targets
        personal = await self.guard.personal_types(ctx.tenant)
        if not personal:
            return targets
        held = {(e.id, e.type): e for e in local}
        kept = []
        for target in targets:
            entity_type = target.entity.type
            if entity_type is None:
                continue  # an untyped provider could be asked about anything
            if entity_type not in personal:
                kept.append(target)
                continue
            entity = held.get((target.entity.id, entity_type)) if target.entity.id is not None else None
            if entity is not None and await self._disclose(
                ctx, target.registration, entity, personal[entity_type], target.attrs
            ):
                kept.append(target)
        return kept

    async def _disclose(
        self, ctx: RequestContext, reg: Registration, entity: Entity, subject_attr: str, names: Sequence[str]
    ) -> bool:
        """May `reg`'s provider receive these attributes (all of them when empty) of this personal
        entity? Yes is logged in the access log."""
        subject = subject_of(entity, subject_attr) or ""
        access = await self.guard.notification_access(ctx.tenant, entity.type, subject, reg.owner, reg.owner_roles)
        if access is None or not all(access.shows(n) for n in names) or (not names and access.attrs is not None):
            return False
        shown = Entity(entity.id, entity.type, attrs={n: entity.attrs[n] for n in names if n in entity.attrs})
        record = self.guard.notification_record(
            ctx.tenant, reg.owner or "", subject, shown, access, ctx.correlator, channel="forwarding"
        )
        if record is not None:
            await self.guard.log(ctx.tenant, [record])
        return True

    # -- updates ---------------------------------------------------------------------------
    async def route_update(
        self,
        ctx: RequestContext,
        regs: list[Registration],
        items: Sequence[tuple[str, str | None, dict[str, Attribute], Entity | None]],
        *,
        replace: bool = False,
    ) -> RoutedUpdate:
        """Split each `(id, type, attributes, entity held here)`: an attribute held here (or that no
        provider serves) stays here; the others go to the provider registered for them. With
        `replace`, an entity held here is replaced here whole (Orion forwards only the others).
        `regs`: `update_registrations` of the request."""
        routed = RoutedUpdate()
        for entity_id, entity_type, attrs, local in items:
            if not regs or (replace and local is not None):
                routed.kept.append(attrs)
                continue
            routed.kept.append(routing.plan_update(regs, entity_id, entity_type, attrs, local, routed.targets))
        if routed.targets:
            await self._check_update_consent(ctx, routed, items)
        return routed

    async def update_registrations(self, ctx: RequestContext) -> list[Registration]:
        """The registrations an update of this request may forward to (none: the update is local
        and the entity need not be read first)."""
        if not self.forwarder.allowed(ctx):
            return []
        regs = await self.directory.registrations(ctx.tenant)
        return routing.for_update(regs, ctx.write_path, self.clock()) if regs else []

    async def _check_update_consent(
        self,
        ctx: RequestContext,
        routed: RoutedUpdate,
        items: Sequence[tuple[str, str | None, dict[str, Attribute], Entity | None]],
    ) -> None:
        """403 when an update would carry a personal entity's attributes to a provider its subject's
        consents do not cover; the ones that may go are logged."""
        personal = await self.guard.personal_types(ctx.tenant)
        if not personal:
            return
        held = {(i[0], local.type): local for i in items if (local := i[3]) is not None}
        for target in routed.targets.values():
            for entity_id, entity_type, attrs in target.entities:
                if entity_type is None or entity_type in personal:
                    entity = held.get((entity_id, entity_type)) if entity_type is not None else None
                    if entity is None or not await self._disclose(
                        ctx, target.registration, _with_values(entity, attrs), personal[entity.type], tuple(attrs)
                    ):
                        raise forbidden(NO_CONSENT)

    async def forward_update(
        self, ctx: RequestContext, routed: RoutedUpdate, report: UpdateReport | None = None
    ) -> UpdateReport:
        """Send the routed parts; what the providers did not take joins `report` (after what this
        broker could not update, as Orion lists them)."""
        report = report if report is not None else UpdateReport()
        for answer in await self.forwarder.update(ctx, list(routed.targets.values())):
            for entity_id, entity_type, attrs in answer.target.entities:
                failed = list(attrs) if answer.failed is None else answer.failed.get((entity_id, entity_type), [])
                if answer.ok or len(failed) < len(attrs):
                    report.applied = True
                if not answer.ok and failed:
                    report.fail(entity_id, entity_type, failed)
        return report


def _with_values(entity: Entity, attrs: dict[str, Attribute]) -> Entity:
    return Entity(entity.id, entity.type, entity.service_path, {**entity.attrs, **attrs})
