"""Several delivering processes on one store (as brokers on MongoDB): each subscription is drained
by one lease holder at a time, a dead holder's lease expires, counters carry over between owners."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from broker.core.entities import EntityService
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity
from broker.personal.guard import PersonalGuard
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.leases import LeasedDispatcher, lease_name
from broker.subscriptions.notifier import Notifier
from tests.receivers import Receiver
from tests.subscriptions.test_delivery import _subscription

SUB_ID = "5f0000000000000000000001"
Process = tuple[Notifier, LeasedDispatcher, SqliteStorage]


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Process]]]:
    """Start a 'process' (its own store connection, cache and leased dispatcher) on one shared file."""
    started: list[Process] = []

    async def start(**lease_settings: float) -> Process:
        storage = SqliteStorage(str(tmp_path / "shared.db"))
        await storage.start()
        notifier = Notifier(storage, PersonalGuard(storage))
        await notifier.load()
        dispatcher = LeasedDispatcher(storage, notifier, max_backoff=0.2, poll=0.05, **lease_settings)
        await dispatcher.start()
        started.append((notifier, dispatcher, storage))
        return notifier, dispatcher, storage

    yield start
    for _notifier, dispatcher, storage in started:
        await dispatcher.close()
        await storage.close()


async def _update(notifier: Notifier, storage: SqliteStorage, values: range) -> None:
    entities = EntityService(storage, notifier.guard, changes=notifier)
    ctx = RequestContext(tenant="", write_path="/", correlator="c")
    for n in values:
        await entities.create(ctx, Entity(f"R{n}", "Room", attrs={"temp": Attribute("Number", n)}))


async def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until `predicate()` holds: lease state and clock time, which no event announces."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _temps(receiver: Receiver) -> list[int]:
    return [body["data"][0]["temp"]["value"] for body in receiver.bodies]


async def test_two_leased_dispatchers_deliver_every_notification_once_and_in_order(processes, receiver) -> None:
    (notifier_a, _, store_a), (notifier_b, _, store_b) = await processes(), await processes()
    await notifier_a.save(_subscription(receiver.url))
    await notifier_b.load()
    await _update(notifier_a, store_a, range(0, 30))
    await _update(notifier_b, store_b, range(30, 60))
    await receiver.wait_for(60)
    assert _temps(receiver) == list(range(60))


async def test_a_lease_held_by_a_dead_process_expires_and_another_takes_the_subscription_over(
    processes, receiver
) -> None:
    notifier, _, storage = await processes()
    await notifier.save(_subscription(receiver.url))
    now = time.time()
    assert await storage.claim_lease(lease_name(SUB_ID), "crashed-process", "t", now + 1.0, now)
    await _update(notifier, storage, range(3))
    await _wait_for(lambda: time.time() > now + 0.5)
    assert receiver.requests == []  # the dead owner's lease still holds
    await receiver.wait_for(3)
    assert _temps(receiver) == [0, 1, 2]


async def test_counters_carry_over_from_one_lease_holder_to_the_next(processes, receiver) -> None:
    settings = {"renew": 0.1, "idle": 0.1}
    (notifier_a, dispatcher_a, store_a) = await processes(**settings)
    (notifier_b, dispatcher_b, store_b) = await processes(**settings)
    await notifier_a.save(_subscription(receiver.url))
    await notifier_b.load()
    await _update(notifier_a, store_a, range(3))
    await receiver.wait_for(3)
    await _wait_for(lambda: SUB_ID not in dispatcher_a._held and SUB_ID not in dispatcher_b._held)  # idle: given back
    await dispatcher_a.close()  # only B is left to deliver
    await _update(notifier_b, store_b, range(3, 5))
    await receiver.wait_for(5)
    await _wait_for(lambda: SUB_ID not in dispatcher_b._held)
    stored = await store_b.get_delivery("", SUB_ID)
    assert stored is not None and stored.times_sent == 5 and stored.fails_counter == 0
