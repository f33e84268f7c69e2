"""The engine: one storage backend, one personal guard, the notifier and its dispatcher, the use
cases, and the background tasks that keep them current. Built here once; the HTTP layer only
receives its services."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from broker.core.batch import BatchService
from broker.core.entities import EntityService
from broker.core.personal import PersonalDataService
from broker.core.providers import ContextProviders
from broker.core.registrations import RegistrationService
from broker.core.subscriptions import SubscriptionService
from broker.core.types import TypeService
from broker.http.services import Services
from broker.logs import event
from broker.personal.guard import PersonalGuard
from broker.registrations.directory import RegistrationDirectory
from broker.registrations.forwarder import Forwarder, ForwardingSettings
from broker.storage.port import Storage, StorageUnavailable
from broker.subscriptions.dispatcher import DeliverySettings, Dispatcher
from broker.subscriptions.leases import LeasedDispatcher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.wakeup import WakeSender

FOLLOW_SECONDS = 0.5  # how often the subscription cache checks the store's version: the propagation bound
EXPIRY_SECONDS = 1.0  # how often expired transient entities are deleted (Orion: MongoDB's TTL monitor, 60 s)
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between attempts to reach a database that is not there yet


@dataclass
class Engine:
    """Everything one serving process runs besides HTTP, and how it starts and stops.

    `deliver_here`: this process sends the notifications (else a delivery worker process does);
    `shared_delivery`: other processes deliver from the same store too, so subscriptions are
    drained under a lease and the cache follows the store; `retry_start`: a database server that
    cannot be reached at start is waited for."""

    storage: Storage
    guard: PersonalGuard
    notifier: Notifier
    dispatcher: Dispatcher
    services: Services
    deliver_here: bool = True
    shared_delivery: bool = False
    retry_start: bool = False
    waker: WakeSender | None = None
    forwarder: Forwarder | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Open the store, load the subscription cache, start delivering and sweeping."""
        await open_store(self.storage, retry=self.retry_start)
        await self.notifier.load()
        self._tasks.append(asyncio.create_task(expire_entities(self.storage)))
        if self.deliver_here:
            await self.dispatcher.start()
        if not self.deliver_here or self.shared_delivery:
            self._tasks.append(asyncio.create_task(follow_other_processes(self.notifier)))

    async def stop(self) -> None:
        """Stop the background tasks and the dispatcher, then close the store."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.deliver_here:
            await self.dispatcher.close()
        if self.waker is not None:
            self.waker.close()
        if self.forwarder is not None:
            await self.forwarder.close()
        await self.storage.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Engine]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()


def build_engine(
    storage: Storage,
    delivery: DeliverySettings | None = None,
    *,
    deliver_here: bool = True,
    shared_delivery: bool = False,
    owned_subscriptions: bool = False,
    personal_min_k: int = 10,
    retry_start: bool = False,
    no_cache: bool = False,
    wake_address: str | None = None,
    forwarding: ForwardingSettings | None = None,
) -> Engine:
    """The engine over `storage` (not started). `owned_subscriptions`: authentication is configured,
    so subscriptions belong to their creator; `no_cache` (`-noCache`): the subscription cache is
    checked against the store on every use; `wake_address`: the delivery process's wake-up
    address, signalled after each commit that owes notifications (subscriptions/wakeup.py);
    `forwarding`: `-httpTimeout`, `-cprForwardLimit` and this broker's name for requests forwarded
    to context providers."""
    guard = PersonalGuard(storage)  # the one guard: reads, writes and notifications ask the same
    notifier = Notifier(storage, guard, no_cache=no_cache)
    dispatcher = (LeasedDispatcher if shared_delivery else Dispatcher).from_settings(
        storage, notifier, delivery or DeliverySettings()
    )
    waker = WakeSender(wake_address) if wake_address is not None and not deliver_here else None
    if waker is not None:
        notifier.signal = waker.send
    directory = RegistrationDirectory(storage)
    forwarder = Forwarder(storage, forwarding or ForwardingSettings())
    providers = ContextProviders(directory, forwarder, guard)
    entities = EntityService(storage, guard, changes=notifier, providers=providers)
    services = Services(
        entities=entities,
        types=TypeService(storage, guard),
        batch=BatchService(entities),
        subscriptions=SubscriptionService(
            notifier, counters_in_store=not deliver_here or shared_delivery, owned=owned_subscriptions
        ),
        registrations=RegistrationService(storage, changed=directory.forget, owned=owned_subscriptions),
        personal=PersonalDataService(entities, min_k=personal_min_k),
        started_at=time.time(),
    )
    return Engine(
        storage,
        guard,
        notifier,
        dispatcher,
        services,
        deliver_here=deliver_here,
        shared_delivery=shared_delivery,
        retry_start=retry_start,
        waker=waker,
        forwarder=forwarder,
    )


async def open_store(storage: Storage, *, retry: bool) -> None:
    """Start the store; with `retry`, an unreachable server is a warning and another attempt, with a
    growing pause, until it answers (a database started after the broker, a failover), never a crash loop."""
    pause, attempt = RETRY_FIRST, 1
    while True:
        try:
            await storage.start()
            if attempt > 1:
                event(logging.WARNING, "database reached", attempt=attempt)
            return
        except StorageUnavailable as exc:
            if not retry:
                raise
            event(logging.WARNING, "database unreachable, retrying", error=str(exc), attempt=attempt, retryIn=pause)
        await asyncio.sleep(pause)
        pause, attempt = min(pause * 2, RETRY_MAX), attempt + 1


async def follow_other_processes(notifier: Notifier) -> None:
    """Subscriptions changed by other processes (created, changed, deleted, or made inactive by
    `maxFailsLimit` or `oneshot`) reach the cache within FOLLOW_SECONDS."""
    while True:
        await asyncio.sleep(FOLLOW_SECONDS)
        try:
            await notifier.refresh()
        except Exception as exc:  # the store is busy or down: try again later
            event(logging.WARNING, "subscription refresh failed", error=repr(exc))


async def expire_entities(storage: Storage) -> None:
    """Transient entities go once their `dateExpires` has passed (every process sweeps; the
    deletes are idempotent)."""
    while True:
        await asyncio.sleep(EXPIRY_SECONDS)
        try:
            await storage.delete_expired(time.time())
        except Exception as exc:  # the store is busy or down: try again later
            event(logging.WARNING, "expiry sweep failed", error=repr(exc))
