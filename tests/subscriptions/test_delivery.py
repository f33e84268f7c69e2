"""The side flow end to end below the HTTP API: a write, its outbox record, delivery to a receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from broker.core.entities import EntityRef, EntityService, UpdateMode
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import Dispatcher
from broker.subscriptions.model import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.subscriptions.notifier import Notifier


class Receiver:
    """A local HTTP receiver that can be taken down (answers 503) and brought back."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict]] = []
        self.up = True
        app = web.Application()
        app.router.add_post("/notify", self.handle)
        self.server = TestServer(app)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.up:
            return web.Response(status=503)
        self.received.append((dict(request.headers), orjson.loads(await request.read())))
        return web.Response(status=200)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/notify"))


@pytest.fixture
async def stack(tmp_path: Path):
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    notifier = Notifier(storage)
    dispatcher = Dispatcher(storage, notifier, max_backoff=0.2)
    await dispatcher.start()
    receiver = Receiver()
    await receiver.server.start_server()
    yield EntityService(storage, changes=notifier), notifier, dispatcher, receiver, storage
    await dispatcher.close()
    await receiver.server.close()
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


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_a_create_is_notified_with_orions_headers_and_body(stack):
    entities, notifier, _, receiver, _ = stack
    await notifier.save(_subscription(receiver.url, tenant="city"))
    ctx = RequestContext(tenant="city", write_path="/a", correlator="corr-1")
    await entities.create(
        ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 21.0), "x": Attribute("Text", "y")})
    )
    await _wait_for(lambda: len(receiver.received) == 1)
    headers, body = receiver.received[0]
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
    await _wait_for(lambda: sub.delivery.times_sent == 1)  # counted once the answer is in, just after receipt
    assert sub.delivery.last_success_code == 200


async def test_notifications_wait_for_a_dead_receiver_and_arrive_in_order(stack):
    entities, notifier, _, receiver, storage = stack
    await notifier.save(_subscription(receiver.url))
    ctx = RequestContext(write_path="/")
    await entities.create(ctx, Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    await _wait_for(lambda: len(receiver.received) == 1)
    receiver.up = False
    for i in range(1, 51):
        await entities.update_attributes(
            ctx, EntityRef("R1", "Room"), {"temp": Attribute("Number", float(i))}, UpdateMode.UPDATE
        )
    await asyncio.sleep(1.0)
    assert len(receiver.received) == 1
    sub = notifier.get("", "5f0000000000000000000001")
    # Orion records an answer, 503 included, as `lastSuccessCode`; the retries of the first queued
    # notification count once, and the 49 behind it have not gone out yet
    assert sub is not None and sub.delivery.times_sent == 2 and sub.delivery.last_success_code == 503
    receiver.up = True
    await _wait_for(lambda: len(receiver.received) == 51)
    temps = [body["data"][0]["temp"]["value"] for _, body in receiver.received]
    assert temps == list(range(0, 51))
    await _wait_for(lambda: sub.delivery.last_success_code == 200)
    assert sub.delivery.fails_counter == 0 and sub.delivery.times_sent == 51


async def test_deleting_the_subscription_drops_what_it_was_owed(stack):
    entities, notifier, _, receiver, storage = stack
    receiver.up = False
    await notifier.save(_subscription(receiver.url))
    await entities.create(RequestContext(), Entity("R1", "Room", attrs={"temp": Attribute("Number", 0.0)}))
    await asyncio.sleep(0.3)
    assert await notifier.delete("", "5f0000000000000000000001")
    assert await storage.due_subscriptions(1e12) == []


async def test_a_subscription_created_by_another_process_is_delivered_not_dropped(tmp_path: Path):
    """The delivery worker's cache may lag behind a subscription the broker process just created."""
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    receiver = Receiver()
    await receiver.server.start_server()
    api = Notifier(storage)
    worker = Notifier(storage)
    await worker.load()  # before the subscription exists, and never refreshed by a poll below
    dispatcher = Dispatcher(storage, worker, poll=0.05)
    await dispatcher.start()
    try:
        await api.save(_subscription(receiver.url))
        await EntityService(storage, changes=api).create(
            RequestContext(), Entity("R1", "Room", attrs={"temp": Attribute("Number", 1.0)})
        )
        await _wait_for(lambda: len(receiver.received) == 1)
    finally:
        await dispatcher.close()
        await receiver.server.close()
        await storage.close()
