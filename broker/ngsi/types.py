"""Entity-type use cases (`/v2/types`): summaries of the types in a tenant and service path."""

from __future__ import annotations

from typing import Any

from broker.ngsi.context import RequestContext
from broker.ngsi.errors import TYPE_NOT_FOUND, internal_error, not_found
from broker.storage.port import Page, Storage, StorageUnavailable, TypeSummary


def render_type_attrs(summary: TypeSummary, details: bool) -> dict[str, Any]:
    """`{"attr": {"types": [...]}}`, names and types sorted as Orion does."""
    return {
        name: {"types": sorted(summary.attrs[name]) if details else []} for name in sorted(summary.attrs)
    }


class TypeService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def list(self, ctx: RequestContext, page: Page, *, with_attrs: bool = True) -> tuple[list[TypeSummary], int]:
        try:
            return await self.storage.list_types(ctx.tenant, ctx.scopes, page, details=with_attrs)
        except StorageUnavailable as exc:
            raise internal_error(f"Database Error ({exc})") from exc

    async def get(self, ctx: RequestContext, type_name: str) -> TypeSummary:
        try:
            summary = await self.storage.get_type(ctx.tenant, type_name, ctx.scopes)
        except StorageUnavailable as exc:
            raise internal_error(f"Database Error ({exc})") from exc
        if summary is None:
            raise not_found(TYPE_NOT_FOUND)
        return summary

