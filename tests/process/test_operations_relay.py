"""With the embedded store another process sends the notifications; the broker's `/statistics` and
`/admin/metrics` still count them (the delivery worker relays its counters)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.process.broker_process import BrokerProcess
from tests.process.workers import create_entity, create_subscription
from tests.receivers import Receiver

pytestmark = pytest.mark.slow


async def poll(http: aiohttp.ClientSession, url: str, done: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(url) as r:
            assert r.status == 200
            body = await r.json()
        if done(body):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


async def test_notifications_sent_by_the_delivery_worker_count_in_the_broker(
    tmp_path: Path, receiver: Receiver
) -> None:
    broker = BrokerProcess(tmp_path / "broker.db", args=["-statCounters", "-statNotifQueue", "-logLevel", "WARN"])
    broker.start()
    try:
        async with aiohttp.ClientSession() as http:
            sub = {
                "subject": {"entities": [{"id": "G1", "type": "Gauge"}]},
                "notification": {"http": {"url": receiver.url}, "attrs": ["n"]},
            }
            await create_subscription(http, broker.url, sub)
            await create_entity(http, broker.url, "G1")
            await receiver.wait_for(1, timeout=15)
            stats = await poll(http, f"{broker.url}/statistics", lambda b: b["counters"].get("notificationsSent") == 1)
            assert (stats["notifQueue"]["sentOk"], stats["notifQueue"]["sentError"]) == (1, 0)
            metrics = await poll(
                http,
                f"{broker.url}/admin/metrics",
                lambda b: "outgoingTransactions" in b["sum"]["sum"],
            )
            assert metrics["services"]["default-service"]["subservs"]["root-subserv"]["outgoingTransactions"] == 1
            async with http.delete(f"{broker.url}/statistics") as r:
                assert r.status == 200
            stats = await poll(http, f"{broker.url}/statistics", lambda b: True)
            assert "notificationsSent" not in stats["counters"]  # counted before the reset
    finally:
        broker.stop()
