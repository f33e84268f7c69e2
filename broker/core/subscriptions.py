"""Subscription use cases behind `/v2/subscriptions`: create, list, show, change, delete."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from broker.core.ids import new_object_id
from broker.ngsi.context import RequestContext
from broker.ngsi.errors import not_found
from broker.ngsi.selection import Page
from broker.ngsi.subscription import Subscription
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.parse import apply_patch, parse_subscription

SUBSCRIPTION_NOT_FOUND = "The requested subscription has not been found. Check id"


class SubscriptionService:
    def __init__(
        self,
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
        *,
        counters_in_store: bool = False,
        owned: bool = False,
    ) -> None:
        self.notifier = notifier
        self.clock = clock
        self.owned = owned  # auth is on: a principal sees and changes only the subscriptions it created
        self.counters_in_store = counters_in_store  # another process delivers and keeps the counters

    async def create(self, ctx: RequestContext, body: Any, service_path: str) -> Subscription:
        sub = parse_subscription(
            body, tenant=ctx.tenant, service_path=service_path, now=self.clock(), new_id=new_object_id(self.clock())
        )
        sub.owner, sub.owner_roles = ctx.principal, tuple(ctx.roles)
        sub.created_at = self.clock()
        await self.notifier.save(sub)
        return sub

    async def list(
        self, ctx: RequestContext, page: Page, service_path: str | None = None
    ) -> tuple[list[Subscription], int]:
        """A page of the tenant's subscriptions, oldest first; with `service_path`, only those created
        with exactly that path (Orion's filter: `/a` does not list `/a/#` nor `/a/b`)."""
        await self.notifier.sync()
        subs = sorted(
            (
                s
                for s in self.notifier.all(ctx.tenant)
                if self._mine(ctx, s) and (service_path is None or s.service_path == service_path)
            ),
            key=lambda s: (s.created_at, s.id),
        )
        shown = subs[page.offset : page.offset + page.limit]
        return [await self._with_counters(s) for s in shown], len(subs)

    async def get(self, ctx: RequestContext, sub_id: str) -> Subscription:
        await self.notifier.sync()
        sub = self.notifier.get(ctx.tenant, sub_id)
        if sub is None or not self._mine(ctx, sub):
            raise not_found(SUBSCRIPTION_NOT_FOUND)
        return await self._with_counters(sub)

    async def outbox_size(self) -> int:
        """Notifications owed and not yet settled, of every tenant (`/statistics`' `notifQueue.size`)."""
        return await self.notifier.storage.outbox_size()

    def _mine(self, ctx: RequestContext, sub: Subscription) -> bool:
        return not self.owned or sub.owner == ctx.principal

    async def _with_counters(self, sub: Subscription) -> Subscription:
        if not self.counters_in_store:
            return sub
        stored = await self.notifier.storage.get_delivery(sub.tenant, sub.id)
        if stored is None:
            return sub
        return dataclasses.replace(sub, delivery=stored)

    async def update(self, ctx: RequestContext, sub_id: str, body: Any) -> None:
        current = await self.get(ctx, sub_id)
        updated = apply_patch(current, body, now=self.clock())
        updated.delivery = current.delivery
        await self.notifier.save(updated)

    async def delete(self, ctx: RequestContext, sub_id: str) -> None:
        await self.get(ctx, sub_id)
        await self.notifier.delete(ctx.tenant, sub_id)
