"""The side flow end to end below the HTTP API: a write, its outbox record, delivery to a receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.core.entities import EntityRef, EntityService, UpdateMode
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.personal.guard import PersonalGuard
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import Dispatcher
from broker.subscriptions.notifier import Notifier
from tests.receivers import Receiver


@pytest.fixture
async def stack(tmp_path: Path):
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    notifier = Notifier(storage, PersonalGuard(storage))
    dispatcher = Dispatcher(storage, notifier, max_backoff=0.2)
    await dispatcher.start()
    receiver = Receiver()
    await receiver.start()
    yield EntityService(storage, notifier.guard, changes=notifier), notifier, dispatcher, receiver, storage
    await dispatcher.close()
    await receiver.close()
    await storage.close()


def _subscription(url: str, tenant: str = "") -> Subscription:
    return Subscription(
        id="5f0000000000000000000001",
        tenant=tenant,
        service_path="/#",
        entities=(EntityPattern(id_pattern=".*", type="Room"),),
        condition=Condition(),
        notification=Notification(target=HttpTarget(url=url), attrs=("temp",)),
    )


async def test_a_create_is_notified_with_orions_headers_and_body(stack):
    entities, notifier, _, receiver, _ = stack
    await notifier.save(_subscription(receiver.url, tenant="city"))
    ctx = RequestContext(tenant="city", write_path="/a", correlator="corr-1")
    await entities.create(
        ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 21.0), "x": Attribute("Text", "y")})
    )
    await receiver.wait_for(1)
    headers, body = receiver.requests[0].headers, receiver.requests[0].json()
    assert body == {
        "subscriptionId": "5f0000000000000000000001",
        "data": [{"id": "R1", "type": "Room", "temp": {"type": "Number", "value": 21, "metadata": {}}}],
    }
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Fiware-Service"] == "city"
    assert headers["Fiware-Servicepath"] == "/a"
    assert headers["Fiware-Correlator"] == "corr-1; cbnotif=1"
    assert headers["Ngsiv2-AttrsFormat"] == "normalized"
    assert headers["User-Agent"].startswith("orion/")
    sub = notifier.get("city", "5f0000000000000000000001")
    assert sub is not None
    await notifier.drains.wait()  # counted once the answer is in, just after receipt
    assert sub.delivery.times_sent == 1
    assert sub.delivery.last_success_code == 200


async def test_notifications_wait_for_a_dead_receiver_and_arrive_in_order(stack):
    entities, notifier, _, receiver, storage = stack
    await notifier.save(_subscription(receiver.url))
    ctx = RequestContext(write_path="/")
    await entities.create(ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    await receiver.wait_for(1)
    receiver.up = False
    for i in range(1, 51):
        await entities.update_attributes(
            ctx, EntityRef("R1", "Room"), {"temp": Attribute("Number", float(i))}, UpdateMode.UPDATE
        )
    await receiver.wait_refused(3)  # the first queued notification was retried
    assert len(receiver.requests) == 1
    sub = notifier.get("", "5f0000000000000000000001")
    # Orion records an answer, 503 included, as `lastSuccessCode`; the retries of the first queued
    # notification count once, and the 49 behind it have not gone out yet
    assert sub is not None and sub.delivery.times_sent == 2 and sub.delivery.last_success_code == 503
    receiver.up = True
    await receiver.wait_for(51)
    temps = [body["data"][0]["temp"]["value"] for body in receiver.bodies]
    assert temps == list(range(0, 51))
    await notifier.drains.wait()
    assert sub.delivery.last_success_code == 200
    assert sub.delivery.fails_counter == 0 and sub.delivery.times_sent == 51


async def test_deleting_the_subscription_drops_what_it_was_owed(stack):
    entities, notifier, _, receiver, storage = stack
    receiver.up = False
    await notifier.save(_subscription(receiver.url))
    await entities.create(RequestContext(), Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    await receiver.wait_refused(1)
    assert await notifier.delete("", "5f0000000000000000000001")
    assert await storage.due_subscriptions(1e12) == []


async def test_a_subscription_created_by_another_process_is_delivered_not_dropped(tmp_path: Path):
    """The delivery worker's cache may lag behind a subscription the broker process just created."""
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    receiver = Receiver()
    await receiver.start()
    api = Notifier(storage, PersonalGuard(storage))
    worker = Notifier(storage, PersonalGuard(storage))
    await worker.load()  # before the subscription exists, and never refreshed by a poll below
    dispatcher = Dispatcher(storage, worker, poll=0.05)
    await dispatcher.start()
    try:
        await api.save(_subscription(receiver.url))
        await EntityService(storage, api.guard, changes=api).create(
            RequestContext(), Entity("R1", "Room", attrs={"temp": Attribute("Number", 1.0)})
        )
        await receiver.wait_for(1)
    finally:
        await dispatcher.close()
        await receiver.close()
        await storage.close()


async def test_the_drained_signal_comes_once_every_acknowledged_write_is_delivered(stack):
    entities, notifier, _, receiver, storage = stack
    await notifier.save(_subscription(receiver.url))
    ctx = RequestContext(write_path="/")
    await entities.create(ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    for i in range(1, 20):
        await entities.update_attributes(
            ctx, EntityRef("R1", "Room"), {"temp": Attribute("Number", float(i))}, UpdateMode.UPDATE
        )
    await notifier.drains.wait()
    assert [body["data"][0]["temp"]["value"] for body in receiver.bodies] == list(range(20))
    assert await storage.due_subscriptions(float("inf")) == []


async def test_the_drained_signal_waits_for_a_receiver_that_is_down(stack):
    entities, notifier, _, receiver, _ = stack
    await notifier.save(_subscription(receiver.url))
    receiver.up = False
    await entities.create(RequestContext(), Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    with pytest.raises(TimeoutError):
        await notifier.drains.wait(timeout=0.5)
    assert receiver.refused >= 1
    receiver.up = True
    await notifier.drains.wait()
    assert len(receiver.requests) == 1
