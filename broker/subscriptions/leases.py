"""Delivery shared by several processes on one database: one process drains a subscription at a time.

Before a process drains a subscription's notifications it claims the lease `notify:<id>` in the
store (owner, token, expiry), the way Orion's processes coordinate: only through the database. It
keeps the lease while notifications keep coming, renewing it every RENEW seconds, and gives it
back once the subscription has been idle for IDLE seconds, after writing the delivery counters
back; a crashed owner's lease simply expires after TTL seconds and another process takes the
subscription over. Counters are read from the store when a lease is taken, so they carry on
from the previous owner. Expiry uses each machine's clock: their skew must stay well below TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from broker.logs import event
from broker.storage.port import OutboxRecord
from broker.subscriptions.dispatcher import Dispatcher

TTL = 15.0  # seconds a lease lasts without renewal: how long a crashed owner holds its subscriptions
RENEW = 3.0  # seconds between renewals (and idle checks)
IDLE = 2.0  # seconds without a drain after which a lease is given back


def lease_name(sub_id: str) -> str:
    return f"notify:{sub_id}"


@dataclass
class _Lease:
    token: str
    until: float
    used: float


class LeasedDispatcher(Dispatcher):
    """A `Dispatcher` that drains only the subscriptions whose lease it holds."""

    def __init__(self, *args: Any, ttl: float = TTL, renew: float = RENEW, idle: float = IDLE, **kwargs: Any) -> None:
        kwargs.setdefault("counters_first", True)  # GET reads the counters from the store
        super().__init__(*args, **kwargs)
        self.owner = uuid.uuid4().hex  # this process, for as long as it runs
        self.ttl, self.renew, self.idle = ttl, renew, idle
        self._held: dict[str, _Lease] = {}
        self._keeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._keeper = asyncio.create_task(self._keep(), name="delivery-leases")

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        await super().close()  # drains stopped, counters written back
        for sub_id, lease in list(self._held.items()):
            with contextlib.suppress(Exception):
                await self.storage.release_lease(lease_name(sub_id), lease.token)
        self._held.clear()

    async def _drain(self, sub_id: str) -> None:
        try:
            held = await self._hold(sub_id)
        except Exception as exc:  # the store is down: the next round tries again
            event(logging.ERROR, "delivery lease failed", subscription=sub_id, error=repr(exc))
            held = False
        if not held:  # another process drains it (no wake-up: its next due round asks again)
            self._draining.pop(sub_id, None)
            return
        try:
            await super()._drain(sub_id)
        finally:
            lease = self._held.get(sub_id)
            if lease is not None:
                lease.used = self.clock()

    async def _deliver(self, record: OutboxRecord) -> bool:
        if record.subscription_id not in self._held:  # lost meanwhile: its new owner sends the rest
            return False
        return await super()._deliver(record)

    async def _hold(self, sub_id: str) -> bool:
        """True when this process holds the subscription's lease, claiming it if need be."""
        now = self.clock()
        lease = self._held.get(sub_id)
        if lease is not None and lease.until - now > self.ttl / 3:
            return True
        token = uuid.uuid4().hex
        if not await self.storage.claim_lease(lease_name(sub_id), self.owner, token, now + self.ttl, now):
            self._held.pop(sub_id, None)
            return False
        fresh = lease is None
        self._held[sub_id] = _Lease(token, now + self.ttl, now)
        if fresh:  # carry on from the counters the previous owner wrote back
            sub = self.notifier.find(sub_id)
            if sub is not None:
                stored = await self.storage.get_delivery(sub.tenant, sub_id)
                if stored is not None:
                    sub.delivery = stored
        return True

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.renew)
            for sub_id, lease in list(self._held.items()):
                try:
                    if sub_id not in self._draining and self.clock() - lease.used >= self.idle:
                        await self._release(sub_id, lease)
                    else:
                        await self._extend(sub_id, lease)
                except Exception as exc:  # the store is down: the lease may expire, another process takes over
                    event(logging.WARNING, "delivery lease upkeep failed", subscription=sub_id, error=repr(exc))

    async def _extend(self, sub_id: str, lease: _Lease) -> None:
        until = self.clock() + self.ttl
        if await self.storage.renew_lease(lease_name(sub_id), lease.token, until):
            lease.until = until
        elif self._held.get(sub_id) is lease:
            self._held.pop(sub_id, None)
            event(logging.WARNING, "delivery lease lost", subscription=sub_id)

    async def _release(self, sub_id: str, lease: _Lease) -> None:
        """Counters written back first, so that the next owner carries on from them."""
        sub = self.notifier.find(sub_id)
        if sub is not None:
            self._dirty.discard((sub.tenant, sub_id))
            await self.storage.save_delivery(sub.tenant, sub_id, sub.delivery)
        if sub_id in self._draining or self._held.get(sub_id) is not lease:
            return  # drained again meanwhile: keep it
        del self._held[sub_id]
        await self.storage.release_lease(lease_name(sub_id), lease.token)
