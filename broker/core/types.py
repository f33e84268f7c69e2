"""Entity-type use cases (`/v2/types`): summaries of the types in a tenant and service path."""

from __future__ import annotations

from typing import Any

from broker.ngsi.context import RequestContext
from broker.ngsi.errors import TYPE_NOT_FOUND, not_found
from broker.ngsi.model import EXPIRY_ATTR
from broker.ngsi.selection import EntityFilter, Page, TypeSummary
from broker.personal.guard import PersonalGuard
from broker.storage.port import Storage


def render_type_attrs(summary: TypeSummary, details: bool) -> dict[str, Any]:
    """`{"attr": {"types": [...]}}`, names and types sorted as Orion does; the built-in
    `dateExpires` (stored like an attribute) is not one of the type's attributes."""
    return {
        name: {"types": sorted(summary.attrs[name]) if details else []}
        for name in sorted(summary.attrs)
        if name != EXPIRY_ATTR
    }


class TypeService:
    def __init__(self, storage: Storage, guard: PersonalGuard) -> None:
        self.storage = storage
        self.guard = guard

    async def list(self, ctx: RequestContext, page: Page, *, with_attrs: bool = True) -> tuple[list[TypeSummary], int]:
        """Only entities and attributes the caller may see count (personal types under consent)."""
        view = await self.guard.view(ctx, "read")
        visibility = view.visibility() if view is not None else None
        return await self.storage.list_types(ctx.tenant, ctx.scopes, page, details=with_attrs, visibility=visibility)

    async def get(self, ctx: RequestContext, type_name: str) -> TypeSummary:
        flt, _ = await self.guard.restrict(ctx, EntityFilter(types=(type_name,)))
        summary = await self.storage.get_type(ctx.tenant, type_name, ctx.scopes, visibility=flt.visibility)
        if summary is None:
            raise not_found(TYPE_NOT_FOUND)
        return summary
