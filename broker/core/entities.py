"""Entity use cases: create, read, update, replace and delete entities and attributes.

Each write is read-modify-write against a conditional storage write; a concurrent change makes
the storage refuse and the use case starts again from a fresh read, so no update is lost.
The merge rules (append, strict append, update, replace, metadata merge, operators) live here,
never in a backend.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.core.keylocks import KeyLocks
from broker.core.providers import ContextProviders, RoutedUpdate, UpdateReport, update_error
from broker.core.sink import ChangeSink, NoSink
from broker.ngsi.changes import ChangeEvent, attribute_changed
from broker.ngsi.context import RequestContext, ServicePathScope
from broker.ngsi.errors import (
    NgsiError,
    attribute_not_found,
    bad_request,
    entity_not_found,
    internal_error,
    too_many_results,
    unprocessable,
)
from broker.ngsi.geo import location_of
from broker.ngsi.model import EXPIRY_ATTR, Attribute, Entity, Location, default_type
from broker.ngsi.operators import SKIP, apply_operator, is_operator_value
from broker.ngsi.payload import as_datetime
from broker.ngsi.selection import EntityFilter, OrderKey, Page
from broker.personal.guard import PersonalGuard
from broker.personal.policy import View
from broker.storage.port import Storage

MAX_RETRIES = 20


class UpdateMode(enum.Enum):
    APPEND = "append"  # POST .../attrs: update existing, add new
    APPEND_STRICT = "appendStrict"  # POST .../attrs?options=append: add new only
    UPDATE = "update"  # PATCH .../attrs: update existing only
    REPLACE = "replace"  # PUT .../attrs: the request's attributes become the entity's


@dataclass(frozen=True)
class EntityRef:
    """How a request names one entity: its id, and its type when the request gave one."""

    id: str
    type: str | None = None

    def describe(self) -> str:
        return f"{self.id}/{self.type}" if self.type else self.id


def _names(names: list[str]) -> str:
    return "[ " + ", ".join(names) + " ]"


def _merge_attribute(
    old: Attribute | None,
    new: Attribute,
    now: float,
    override_md: bool,
    creation: bool = False,
    forced: bool = False,
) -> Attribute | None:
    """The attribute after `new` is applied to `old` (None: it does not exist); None: not created.

    `creation`: the entity is being created or replaced (operators then start from 0 for `$min`/`$max`).
    As Orion does, an existing attribute's modification date moves only when its type, value or
    metadata changed, or with `forced` (`options=forcedUpdate`).
    """
    value = new.value
    if is_operator_value(value):
        if old is not None:
            value = apply_operator(value, old.value)
        elif new.is_datetime and set(value) <= {"$min", "$max"}:
            value = apply_operator(value, 0.0)  # Orion: dates start from the epoch
        else:
            value = apply_operator(value, creation=creation)
        if value is SKIP:
            return old
    if old is None:
        return Attribute(new.type, value, dict(new.metadata), now, now)
    if override_md:
        metadata = dict(new.metadata)
    else:
        metadata = dict(old.metadata)
        metadata.update(new.metadata)
    merged = Attribute(new.type, value, metadata, old.cre_date or now, now)
    if not forced and not attribute_changed(old, merged, with_metadata=True):
        merged.mod_date = old.mod_date
    return merged


def locate(attrs: dict[str, Attribute]) -> Location | None:
    """The entity's location as Orion derives it (400/413 when malformed or more than one)."""
    found = location_of(attrs)
    return Location(*found) if found is not None else None


def locate_or_none(attrs: dict[str, Attribute]) -> Location | None:
    """The location of an entity already stored (it was valid when written)."""
    try:
        return locate(attrs)
    except NgsiError:
        return None


EXPIRY_ERROR = "error processing date expiration attribute, see log traces"


def check_expiry(attr: Attribute | None, creating: bool) -> None:
    """Orion's dateExpiration checks: a `dateExpires` must be a DateTime when an entity is created
    or replaced; on an update only a non-zero number of another type is refused (any other value
    just clears the expiration)."""
    if attr is None or attr.is_datetime:
        return
    numeric = isinstance(attr.value, (int, float)) and not isinstance(attr.value, bool) and attr.value != 0
    if creating or numeric:
        raise bad_request(EXPIRY_ERROR)


def fresh_attributes(attrs: dict[str, Attribute], now: float) -> dict[str, Attribute]:
    """Attributes of a new (or replaced) entity: operators applied to empty references."""
    check_expiry(attrs.get(EXPIRY_ATTR), creating=True)
    out: dict[str, Attribute] = {}
    for name, attr in attrs.items():
        merged = _merge_attribute(None, attr, now, True, creation=True)
        if merged is not None:
            out[name] = merged
    return out


def apply_update(
    entity: Entity,
    attrs: dict[str, Attribute],
    mode: UpdateMode,
    now: float,
    override_md: bool,
    ref: EntityRef,
    forced: bool = False,
) -> tuple[Entity, NgsiError | None]:
    """The entity after the update, and the error to report (partial or total failure) if any.

    Pure: `entity` is not modified. `forced` (`options=forcedUpdate`): every attribute written
    counts as modified.
    """
    result = copy.copy(entity)
    result.attrs = dict(entity.attrs)
    error: NgsiError | None = None
    if mode is UpdateMode.REPLACE:
        result.attrs = fresh_attributes(attrs, now)
    else:
        applied = 0
        rejected: list[str] = []
        check_expiry(attrs.get(EXPIRY_ATTR), creating=False)
        for name, new in attrs.items():
            old = entity.attrs.get(name)
            if (mode is UpdateMode.UPDATE and old is None) or (mode is UpdateMode.APPEND_STRICT and old is not None):
                rejected.append(name)
                continue
            merged = _merge_attribute(old, new, now, override_md, forced=forced)
            if merged is not None:
                result.attrs[name] = merged
            applied += 1
        if rejected:
            what = (
                "do not exist"
                if mode is UpdateMode.UPDATE
                else "one or more of the attributes in the request already exist"
            )
            if mode is UpdateMode.UPDATE:
                text = f"do not exist: {ref.describe()} - {_names(rejected)}"
            else:
                text = f"{what}: {ref.describe()} - {_names(rejected)}"
            error = unprocessable(text, "PartialUpdate" if applied else "Unprocessable")
            if not applied:
                return entity, error
    result.mod_date = now
    return result, error


class EntityService:
    def __init__(
        self,
        storage: Storage,
        guard: PersonalGuard,
        clock: Callable[[], float] = time.time,
        changes: ChangeSink | None = None,
        providers: ContextProviders | None = None,
    ) -> None:
        self.storage = storage
        self.providers = providers  # context providers (registrations): None, none are asked
        self.clock = clock
        self.changes: ChangeSink = changes or NoSink()
        self.guard = guard
        self.locks = KeyLocks()

    # -- reads -----------------------------------------------------------------------------
    async def query(
        self,
        ctx: RequestContext,
        flt: EntityFilter,
        page: Page,
        *,
        order: tuple[OrderKey, ...] = (),
        count: bool = False,
        attrs: tuple[str, ...] | None = None,
    ) -> tuple[list[Entity], int | None]:
        """A page of entities (`attrs`: the attributes the caller asked for, None: all; providers
        are asked only for those), and the total when `count`."""
        flt, view = await self.guard.restrict(ctx, dataclasses.replace(flt, scopes=ctx.scopes))
        regs = await self.providers.query_registrations(ctx) if self.providers is not None else []
        entities, total = await self.storage.query_entities(
            ctx.tenant, flt, page, order=order, count=count or bool(regs)
        )
        if regs:
            assert self.providers is not None
            entities, total = await self.providers.complete_list(ctx, regs, flt, attrs, page, entities, total)
        return await self.guard.disclose(ctx, view, entities), total if count else None

    async def get(self, ctx: RequestContext, ref: EntityRef, attrs: tuple[str, ...] | None = None) -> Entity:
        """The entity, completed by its context providers with the attributes asked for (None: all)."""
        if self.providers is None:
            entity, view = await self._find_one(ctx, ref, ctx.scopes, "read")
        else:
            local, view = await self._held(ctx, ref, ctx.scopes, "read")
            found = await self.providers.complete_entity(ctx, ref.id, ref.type, attrs, local)
            if found is None:
                raise entity_not_found()
            entity = found
        shown = await self.guard.disclose(ctx, view, [entity])
        if not shown:  # a provider's answer about a personal entity the caller may not see
            raise entity_not_found()
        return shown[0]

    async def _held(
        self, ctx: RequestContext, ref: EntityRef, scopes: tuple[ServicePathScope, ...], operation: str
    ) -> tuple[Entity | None, View | None]:
        """`_find_one`, with None for an entity this broker does not hold."""
        try:
            return await self._find_one(ctx, ref, scopes, operation)
        except NgsiError as exc:
            if exc.status != 404:
                raise
        return None, await self.guard.view(ctx, operation)

    async def _find_one(
        self, ctx: RequestContext, ref: EntityRef, scopes: tuple[ServicePathScope, ...], operation: str
    ) -> tuple[Entity, View | None]:
        """The one entity `ref` names that the caller may read (or write), whole, and the caller's view."""
        flt = EntityFilter(ids=(ref.id,), types=(ref.type,) if ref.type else (), scopes=scopes)
        flt, view = await self.guard.restrict(ctx, flt, operation)
        found, _ = await self.storage.query_entities(ctx.tenant, flt, Page(limit=2))
        if not found:
            raise entity_not_found()
        if len(found) > 1:
            raise too_many_results()
        return found[0], view

    # -- writes ----------------------------------------------------------------------------
    async def create(
        self, ctx: RequestContext, entity: Entity, *, upsert: bool = False, key_values: bool = False
    ) -> bool:
        """Store a new entity; with `upsert`, update an existing one instead. True when created."""
        now = self.clock()
        new = Entity(
            id=entity.id,
            type=entity.type,
            service_path=ctx.write_path,
            attrs=fresh_attributes(entity.attrs, now),
            cre_date=now,
            mod_date=now,
        )
        new.location = locate(new.attrs)
        new.correlator = ctx.correlator
        view = await self.guard.view(ctx, "write")
        self.guard.check_write(ctx, view, new, new.attrs)
        outbox = await self.changes.outbox_for(
            [ChangeEvent(ctx.tenant, None, new, tuple(new.attrs), ctx.correlator, ctx.auth_token)]
        )
        for _ in range(MAX_RETRIES):
            if await self.storage.insert_entity(ctx.tenant, new, outbox):
                await self.changes.committed(outbox)
                return True
            await self.changes.abandoned(outbox)
            if not upsert:
                raise unprocessable("Already Exists")
            ref = EntityRef(entity.id, entity.type)
            try:
                await self.update_attributes(ctx, ref, entity.attrs, UpdateMode.APPEND, exact_type=True)
                return False
            except NgsiError as exc:
                if exc.status != 404:  # deleted in between: try to create again
                    raise
        raise internal_error("too many concurrent changes to one entity")

    async def update_attributes(
        self,
        ctx: RequestContext,
        ref: EntityRef,
        attrs: dict[str, Attribute],
        mode: UpdateMode,
        *,
        override_md: bool = False,
        exact_type: bool = False,
    ) -> None:
        """Orion forwards updates (`PATCH`) and replacements (`PUT`) to context providers, never appends."""
        if mode in (UpdateMode.UPDATE, UpdateMode.REPLACE):
            routed = await self._route(ctx, ref, attrs, replace=mode is UpdateMode.REPLACE)
            if routed is not None:
                await self._update_with_providers(ctx, ref, *routed, override_md=override_md)
                return
        await self._update_here(ctx, ref, attrs, mode, override_md)

    async def _update_here(
        self, ctx: RequestContext, ref: EntityRef, attrs: dict[str, Attribute], mode: UpdateMode, override_md: bool
    ) -> None:
        def mutate(entity: Entity) -> tuple[Entity, NgsiError | None]:
            return apply_update(entity, attrs, mode, self.clock(), override_md, ref, ctx.forced_update)

        await self._modify(ctx, ref, mutate, tuple(attrs))

    async def replace_attribute(
        self, ctx: RequestContext, ref: EntityRef, name: str, attr: Attribute, *, override_md: bool = False
    ) -> None:
        """`PUT .../attrs/{name}`: the attribute must exist here, or at a context provider."""
        routed = await self._route(ctx, ref, {name: attr})
        if routed is not None:
            await self._update_with_providers(ctx, ref, *routed, override_md=override_md)
            return

        def mutate(entity: Entity) -> tuple[Entity, NgsiError | None]:
            if name not in entity.attrs:
                raise attribute_not_found()
            return apply_update(
                entity, {name: attr}, UpdateMode.UPDATE, self.clock(), override_md, ref, ctx.forced_update
            )

        await self._modify(ctx, ref, mutate, (name,))

    async def set_attribute_value(self, ctx: RequestContext, ref: EntityRef, name: str, value: Any) -> None:
        """`PUT .../attrs/{name}/value`: keeps type and metadata, changes the value (a provider's
        attribute goes to it with the value's default type)."""
        routed = await self._route(ctx, ref, {name: Attribute(default_type(value), value, {})})
        if routed is not None:
            await self._update_with_providers(ctx, ref, *routed)
            return

        def mutate(entity: Entity) -> tuple[Entity, NgsiError | None]:
            old = entity.attrs.get(name)
            if old is None:
                raise attribute_not_found()
            new = Attribute(old.type, as_datetime(value) if old.is_datetime else value, {})
            return apply_update(entity, {name: new}, UpdateMode.UPDATE, self.clock(), False, ref, ctx.forced_update)

        await self._modify(ctx, ref, mutate, (name,))

    async def _route(
        self, ctx: RequestContext, ref: EntityRef, attrs: dict[str, Attribute], *, replace: bool = False
    ) -> tuple[RoutedUpdate, Entity | None] | None:
        """The update split between here and context providers; None when nothing goes to one."""
        regs = await self.providers.update_registrations(ctx) if self.providers is not None else []
        if not regs:
            return None
        assert self.providers is not None
        local, _ = await self._held(ctx, ref, self._write_scope(ctx), "write")
        routed = await self.providers.route_update(ctx, regs, [(ref.id, ref.type, attrs, local)], replace=replace)
        return (routed, local) if routed.forwards else None

    async def _update_with_providers(
        self,
        ctx: RequestContext,
        ref: EntityRef,
        routed: RoutedUpdate,
        local: Entity | None,
        *,
        override_md: bool = False,
    ) -> None:
        """The attributes held here are updated here, the others sent to their providers, and the
        outcome answered as Orion answers a forwarded update (`update_error`)."""
        assert self.providers is not None
        kept = routed.kept[0]
        here = {n: a for n, a in kept.items() if local is not None and n in local.attrs}
        if here:
            await self._update_here(ctx, ref, here, UpdateMode.UPDATE, override_md)
        report = UpdateReport()
        missing = [n for n in kept if n not in here]
        if missing:
            report.fail(ref.id, ref.type or (local.type if local is not None else None), missing)
        report = await self.providers.forward_update(ctx, routed, report)
        error = update_error(report, bool(here))
        if error is not None:
            raise error

    async def delete_attribute(self, ctx: RequestContext, ref: EntityRef, name: str) -> None:
        def mutate(entity: Entity) -> tuple[Entity, NgsiError | None]:
            if name not in entity.attrs:
                raise attribute_not_found()
            result = copy.copy(entity)
            result.attrs = {n: a for n, a in entity.attrs.items() if n != name}
            result.mod_date = self.clock()
            return result, None

        await self._modify(ctx, ref, mutate, (name,))

    async def delete(self, ctx: RequestContext, ref: EntityRef) -> None:
        for _ in range(MAX_RETRIES):
            entity, view = await self._find_one(ctx, ref, self._write_scope(ctx), "write")
            self.guard.check_write(ctx, view, entity, ())
            entity.location = locate_or_none(entity.attrs)
            outbox = await self.changes.outbox_for(
                [ChangeEvent(ctx.tenant, entity, None, (), ctx.correlator, ctx.auth_token)]
            )
            if await self.storage.delete_entity(ctx.tenant, entity, outbox):
                await self.changes.committed(outbox)
                return
            await self.changes.abandoned(outbox)
        raise internal_error("too many concurrent changes to one entity")

    # -- plumbing --------------------------------------------------------------------------
    @staticmethod
    def _write_scope(ctx: RequestContext) -> tuple[ServicePathScope, ...]:
        return (ServicePathScope(ctx.write_path),)

    async def _modify(
        self,
        ctx: RequestContext,
        ref: EntityRef,
        mutate: Callable[[Entity], tuple[Entity, NgsiError | None]],
        request_attrs: tuple[str, ...],
    ) -> None:
        async with self.locks.hold((ctx.tenant, ref.id)):
            for _ in range(MAX_RETRIES):
                entity, view = await self._find_one(ctx, ref, self._write_scope(ctx), "write")
                self.guard.check_write(ctx, view, entity, request_attrs)
                updated, error = mutate(entity)
                if updated is entity:  # nothing applied
                    if error is not None:
                        raise error
                    return
                self.guard.check_write(ctx, view, updated, request_attrs)  # e.g. handed to another subject
                updated.location = locate(updated.attrs)
                entity.location = locate_or_none(entity.attrs)
                updated.correlator = ctx.correlator
                event = ChangeEvent(
                    ctx.tenant,
                    entity,
                    updated,
                    request_attrs,
                    ctx.correlator,
                    auth_token=ctx.auth_token,
                    forced=ctx.forced_update,
                )
                outbox = await self.changes.outbox_for([event])
                if await self.storage.replace_entity(ctx.tenant, updated, outbox):
                    await self.changes.committed(outbox)
                    if error is not None:
                        raise error
                    return
                await self.changes.abandoned(outbox)
            raise internal_error("too many concurrent changes to one entity")
