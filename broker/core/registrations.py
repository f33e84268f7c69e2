"""Registration use cases behind `/v2/registrations`: create, list, show, change, delete.

Orion 4.x has no PATCH (405); ours changes the fields given in place, leaving the forwarding counters
to whoever writes them concurrently."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from broker.core.ids import new_object_id
from broker.ngsi.context import RequestContext
from broker.ngsi.errors import not_found
from broker.ngsi.registration import Owner, Registration
from broker.ngsi.selection import Page
from broker.registrations.parse import check_data_provided_unchanged, parse_registration, parse_registration_patch
from broker.storage.port import Storage

REGISTRATION_NOT_FOUND = "The requested registration has not been found. Check id"


class RegistrationService:
    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        changed: Callable[[str], None] | None = None,
        *,
        owned: bool = False,
    ) -> None:
        """`changed(tenant)` is called after each create, change and delete stored (forwarding's
        cache of the tenant's registrations is then stale). `owned`: authentication is on, and a
        principal sees and changes only the registrations it created (as for subscriptions): no one
        else may redirect, or learn, where its requests are forwarded."""
        self.storage = storage
        self.clock = clock
        self.changed = changed
        self.owned = owned

    def _changed(self, tenant: str) -> None:
        if self.changed is not None:
            self.changed(tenant)

    async def create(self, ctx: RequestContext, body: Any, service_path: str) -> Registration:
        reg = parse_registration(body, new_id=new_object_id(self.clock()), tenant=ctx.tenant, service_path=service_path)
        reg.owner, reg.owner_roles = ctx.principal, tuple(ctx.roles)
        await self.storage.save_registration(reg)
        self._changed(ctx.tenant)
        return reg

    async def list(self, ctx: RequestContext, page: Page, service_path: str | None) -> tuple[list[Registration], int]:
        """`service_path`: only the registrations of exactly that path (Orion); None: all of the tenant."""
        owned_by = Owner(ctx.principal) if self.owned else None
        return await self.storage.find_registrations(ctx.tenant, page, service_path=service_path, owned_by=owned_by)

    async def get(self, ctx: RequestContext, reg_id: str) -> Registration:
        reg = await self.storage.get_registration(ctx.tenant, reg_id)
        if reg is None or (self.owned and reg.owner != ctx.principal):
            raise not_found(REGISTRATION_NOT_FOUND)
        return reg

    async def update(self, ctx: RequestContext, reg_id: str, body: Any) -> None:
        """The body is checked first (Orion parses a payload before its routine looks anything up);
        only the fields given are written, so counters recorded meanwhile stay."""
        changes, data_provided = parse_registration_patch(body)
        if self.owned or data_provided is not None:
            # someone else's is not found; the owner never changes, nor does dataProvided
            check_data_provided_unchanged(data_provided, await self.get(ctx, reg_id))
        if not await self.storage.change_registration(ctx.tenant, reg_id, changes):
            raise not_found(REGISTRATION_NOT_FOUND)
        self._changed(ctx.tenant)

    async def delete(self, ctx: RequestContext, reg_id: str) -> None:
        if self.owned:
            await self.get(ctx, reg_id)
        if not await self.storage.delete_registration(ctx.tenant, reg_id):
            raise not_found(REGISTRATION_NOT_FOUND)
        self._changed(ctx.tenant)
