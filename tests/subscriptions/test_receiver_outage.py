"""End to end over HTTP: a receiver goes down for 30 s during a burst of 1,000 updates and still
receives every notification, in order, once it is back. Real time on purpose (the outage is what is
tested, retries and backoff included): marked `slow`, it runs in `make test`, not `make test-fast`."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.receivers import Receiver

OUTAGE_SECONDS = 30.0

pytestmark = pytest.mark.slow


async def test_every_notification_arrives_after_a_30_second_outage(client, receiver: Receiver):
    receiver.status = 204
    r = await client.post(
        "/v2/subscriptions",
        json={
            "subject": {"entities": [{"id": "Gauge1", "type": "WaterLevel"}]},
            "notification": {"http": {"url": receiver.url}, "attrs": ["n"]},
        },
    )
    assert r.status == 201
    sub_url = r.headers["Location"]
    r = await client.post("/v2/entities", json={"id": "Gauge1", "type": "WaterLevel", "n": {"value": 0}})
    assert r.status == 201

    receiver.up = False
    down_at = time.monotonic()
    for i in range(1, 1001):
        r = await client.patch("/v2/entities/Gauge1/attrs", json={"n": {"value": i}})
        assert r.status == 204
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))  # the outage itself

    sub = await (await client.get(sub_url)).json()
    # as Orion, an answer (503 included) is `lastSuccessCode`, not a failure; the notification
    # that met it counts once however often it is retried, those behind it not yet
    assert "failsCounter" not in sub["notification"]
    assert sub["notification"]["lastSuccessCode"] == 503
    assert len(receiver.requests) <= 1  # only the creation, if it went out before the outage
    assert sub["notification"]["timesSent"] == len(receiver.requests) + 1  # and the one held back

    receiver.up = True
    values = lambda: [body["data"][0]["n"]["value"] for body in receiver.bodies]
    await receiver.until(lambda: len(receiver.requests) >= 1001 and len(set(values())) >= 1001, timeout=60)
    received = values()
    assert sorted(set(received)) == list(range(0, 1001))
    first_arrivals = list(dict.fromkeys(received))  # delivery is at least once: ignore repeats
    assert first_arrivals == sorted(first_arrivals)  # the order of the changes is kept
    sub = await (await client.get(sub_url)).json()
    assert sub["status"] == "active"
    assert "failsCounter" not in sub["notification"]
    assert sub["notification"]["lastSuccessCode"] == 204
    assert sub["notification"]["timesSent"] == 1001
