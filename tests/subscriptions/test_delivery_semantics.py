"""Delivery as Orion does it, over the HTTP API: one attempt per answer, counters once per
notification, in whole seconds; only transient conditions are retried, in order; counters are
visible as soon as the receiver could look; a commit wakes the deliverer (no polling on the path)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.core.entities import EntityRef, EntityService, UpdateMode
from broker.http.settings import HttpSettings
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.subscription import EntityPattern, Subscription, SubscriptionStatus
from broker.personal.guard import PersonalGuard
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import DeliverySettings, Dispatcher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.wakeup import WakeListener, WakeSender, address_for
from tests.process.broker_process import free_port
from tests.receivers import WAIT, Receiver, drained
from tests.subscriptions.test_delivery import _subscription


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[tuple[TestClient, SqliteStorage]]:
    storage = SqliteStorage(str(tmp_path / "broker.db"))
    app = build_app(storage, HttpSettings(), DeliverySettings(max_backoff=0.05))
    async with TestClient(TestServer(app)) as client:
        yield client, storage


async def _subscribe(client: TestClient, url: str, **notification: Any) -> str:
    body = {
        "subject": {"entities": [{"id": "G1", "type": "Gauge"}]},
        "notification": {"http": {"url": url}, "attrs": ["n"], **notification},
    }
    r = await client.post("/v2/subscriptions", json=body)
    assert r.status == 201, await r.text()
    return r.headers["Location"]


async def _write(client: TestClient, n: int) -> None:
    if n == 0:
        r = await client.post("/v2/entities", json={"id": "G1", "type": "Gauge", "n": {"value": 0}})
        assert r.status == 201
    else:
        r = await client.patch("/v2/entities/G1/attrs", json={"n": {"value": n}})
        assert r.status == 204


def _calls(receiver: Receiver) -> list[tuple[int, int]]:
    """(n, answer) of each notification the receiver got."""
    return [(r.json()["data"][0]["n"]["value"], r.status) for r in receiver.requests]


async def _attempted(storage: SqliteStorage, sub_url: str, attempts: int) -> None:
    sub_id = sub_url.rsplit("/", 1)[1]
    async with asyncio.timeout(WAIT):
        while True:
            pending = await storage.pending_for(sub_id, 1)
            if pending and pending[0].attempts >= attempts:
                return
            await asyncio.sleep(0.02)


async def _notification(client: TestClient, sub_url: str) -> dict[str, Any]:
    r = await client.get(sub_url)
    assert r.status == 200
    return (await r.json())["notification"]


async def test_an_error_answer_is_final_and_the_next_notification_goes_out(broker, receiver):
    client, storage = broker
    receiver.script = [500]
    sub_url = await _subscribe(client, receiver.url)
    await _write(client, 0)
    await _write(client, 1)
    await receiver.wait_for(2)
    await drained(client)
    assert _calls(receiver) == [(0, 500), (1, 200)]  # in order: a retry of the first would come before
    n = await _notification(client, sub_url)
    assert n["timesSent"] == 2 and n["lastSuccessCode"] == 200
    assert "failsCounter" not in n and "lastFailure" not in n and "lastFailureReason" not in n


async def test_a_503_is_retried_before_the_next_notification_and_counted_once(broker, receiver):
    client, storage = broker
    receiver.script = [503, 503]
    sub_url = await _subscribe(client, receiver.url)
    await _write(client, 0)
    await _write(client, 1)
    await receiver.wait_for(4)
    await drained(client)
    assert _calls(receiver) == [(0, 503), (0, 503), (0, 200), (1, 200)]
    n = await _notification(client, sub_url)
    assert n["timesSent"] == 2 and n["lastSuccessCode"] == 200 and "failsCounter" not in n


async def test_counters_after_a_success_are_orions(broker, receiver):
    client, storage = broker
    sub_url = await _subscribe(client, receiver.url)
    await _write(client, 0)
    await receiver.wait_for(1)
    await drained(client)
    n = await _notification(client, sub_url)
    assert n["timesSent"] == 1 and n["lastSuccessCode"] == 200
    assert n["lastSuccess"].endswith(".000Z") and n["lastNotification"] == n["lastSuccess"]
    assert not {"failsCounter", "lastFailure", "lastFailureReason"} & set(n)


async def test_counters_after_connection_refused_count_one_failure_however_often_retried(broker):
    client, storage = broker
    sub_url = await _subscribe(client, f"http://127.0.0.1:{free_port()}/notify")
    await _write(client, 0)
    await _attempted(storage, sub_url, 3)  # tried three times already, and still owed
    n = await _notification(client, sub_url)
    assert n["timesSent"] == 1 and n["failsCounter"] == 1
    assert n["lastFailureReason"] == "Couldn't connect to server"
    assert n["lastFailure"].endswith(".000Z") and n["lastNotification"].endswith(".000Z")
    assert "lastSuccess" not in n and "lastSuccessCode" not in n


async def test_counters_after_a_404_are_a_success_with_its_code_and_it_is_not_retried(broker, receiver):
    client, storage = broker
    receiver.script = [404]
    sub_url = await _subscribe(client, receiver.url)
    await _write(client, 0)
    await receiver.wait_for(1)
    await drained(client)
    assert _calls(receiver) == [(0, 404)]
    n = await _notification(client, sub_url)
    assert n["timesSent"] == 1 and n["lastSuccessCode"] == 404
    assert not {"failsCounter", "lastFailure", "lastFailureReason"} & set(n)


async def test_max_fails_limit_keeps_orions_one_attempt_per_notification(broker):
    client, storage = broker
    sub_url = await _subscribe(client, f"http://127.0.0.1:{free_port()}/notify", maxFailsLimit=1)
    await _write(client, 0)
    await drained(client)  # one attempt, not retried
    r = await client.get(sub_url)
    body = await r.json()
    assert body["notification"]["failsCounter"] == 1 and body["status"] != "inactive"
    await _write(client, 1)
    await drained(client)
    body = await (await client.get(sub_url)).json()
    assert body["status"] == "inactive"
    assert body["notification"]["failsCounter"] == 2 and body["notification"]["timesSent"] == 2
    await _write(client, 2)  # inactive: nothing is owed
    assert await storage.due_subscriptions(float("inf")) == []
    assert (await (await client.get(sub_url)).json())["notification"]["timesSent"] == 2


async def test_a_get_from_the_receiver_shows_each_notification_and_the_previous_answer(tmp_path: Path, receiver):
    """The delivery worker's case: GET reads the counters from the store, written by another
    process. Asked from inside the receiver, before it answers, GET already counts the
    notification it is receiving and shows the answer to the previous one."""
    storage = SqliteStorage(str(tmp_path / "broker.db"))
    app = build_app(storage, HttpSettings(), deliver_here=False)
    async with TestClient(TestServer(app)) as client:
        worker_notifier = Notifier(storage, PersonalGuard(storage))
        await worker_notifier.load()
        worker = Dispatcher(storage, worker_notifier, poll=0.05, counters_first=True, follow=True)
        await worker.start()
        try:
            seen: list[dict[str, Any]] = []

            async def look(_body: dict) -> None:
                seen.append(await _notification(client, sub_url))

            receiver.on_receipt = look
            sub_url = await _subscribe(client, receiver.url)
            await _write(client, 0)
            await receiver.wait_for(1)
            await _write(client, 1)
            await receiver.wait_for(2)
        finally:
            await worker.close()
    assert [s["timesSent"] for s in seen] == [1, 2]
    assert "lastSuccess" not in seen[0] and seen[0]["lastNotification"].endswith(".000Z")
    assert seen[1]["lastSuccessCode"] == 200  # the first one's answer, written before the second went out


async def test_a_commit_wakes_the_dispatcher_without_any_polling(tmp_path: Path, receiver):
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    notifier = Notifier(storage, PersonalGuard(storage))
    dispatcher = Dispatcher(storage, notifier, poll=3600.0)  # only a wake-up can start a round
    await dispatcher.start()
    try:
        await notifier.save(_gauge_subscription(receiver.url))
        entities = EntityService(storage, notifier.guard, changes=notifier)
        ctx = RequestContext(write_path="/")
        await entities.create(ctx, Entity("G1", "Gauge", attrs={"n": Attribute("Number", 0)}))
        for i in range(1, 21):  # each one committed while the previous drain may still be finishing
            await receiver.wait_for(i)
            await entities.update_attributes(
                ctx, EntityRef("G1", "Gauge"), {"n": Attribute("Number", i)}, UpdateMode.UPDATE
            )
        await receiver.wait_for(21)
        assert [n for n, _ in _calls(receiver)] == list(range(21))
    finally:
        await dispatcher.close()
        await storage.close()


async def test_a_commit_in_the_serving_process_wakes_the_delivery_process(tmp_path: Path, receiver):
    """Two notifiers on one store, as the serving process and the delivery worker: the worker
    never polls, so only the datagram sent after the commit can make it deliver."""
    path = str(tmp_path / "n.db")
    address = address_for(path)
    if address is None:
        pytest.skip("wake-up datagrams need Linux's abstract socket namespace")
    serving_store, worker_store = SqliteStorage(path), SqliteStorage(path)
    await serving_store.start()
    await worker_store.start()
    serving, worker = (
        Notifier(serving_store, PersonalGuard(serving_store)),
        Notifier(worker_store, PersonalGuard(worker_store)),
    )
    sender = WakeSender(address)
    serving.signal = sender.send
    listener = WakeListener(address, worker.wake_now)
    assert listener.start()
    dispatcher = Dispatcher(worker_store, worker, poll=3600.0, follow=True)
    await dispatcher.start()
    try:
        await serving.save(_gauge_subscription(receiver.url))
        entities = EntityService(serving_store, serving.guard, changes=serving)
        await entities.create(
            RequestContext(write_path="/"), Entity("G1", "Gauge", attrs={"n": Attribute("Number", 0)})
        )
        await receiver.wait_for(1)
        assert _calls(receiver) == [(0, 200)]
    finally:
        listener.close()
        sender.close()
        await dispatcher.close()
        await serving_store.close()
        await worker_store.close()


def _gauge_subscription(url: str) -> Subscription:
    sub = _subscription(url)
    return replace(
        sub, entities=(EntityPattern(id="G1", type="Gauge"),), notification=replace(sub.notification, attrs=("n",))
    )


async def test_a_reload_of_the_delivering_cache_keeps_the_counters_it_holds(tmp_path: Path, receiver):
    """Another process changes a subscription while this one delivers: the reload must not put
    back the store's older counters (the next write would then lose a count)."""
    storage = SqliteStorage(str(tmp_path / "n.db"))
    await storage.start()
    notifier = Notifier(storage, PersonalGuard(storage))
    dispatcher = Dispatcher(storage, notifier, poll=3600.0)
    await dispatcher.start()
    try:
        sub = _gauge_subscription(receiver.url)
        await notifier.save(sub)
        held = notifier.get("", sub.id)
        assert held is not None
        held.delivery.times_sent = 7  # counted in memory, not yet in the store
        other = Notifier(storage, PersonalGuard(storage))
        await other.save(replace(sub, id="5f0000000000000000000002"))  # the version moves
        assert await notifier.refresh()
        reloaded = notifier.get("", sub.id)
        assert reloaded is not None and reloaded is not held and reloaded.delivery.times_sent == 7
        assert (await storage.get_delivery("", sub.id) or SubscriptionStatus()).times_sent == 0
    finally:
        await dispatcher.close()
        await storage.close()
