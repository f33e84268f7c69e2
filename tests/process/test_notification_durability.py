"""Notifications owed when the broker is killed are delivered after it restarts (the outbox is durable)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.process.broker_process import BrokerProcess
from tests.process.workers import create_entity, create_subscription, patch_n
from tests.receivers import Receiver

pytestmark = pytest.mark.slow


async def test_owed_notifications_survive_sigkill(tmp_path: Path, receiver: Receiver) -> None:
    receiver.up = False
    broker = BrokerProcess(tmp_path / "broker.db", args=["-logLevel", "WARN"])
    broker.start()
    try:
        async with aiohttp.ClientSession() as http:
            sub = {
                "subject": {"entities": [{"id": "G1", "type": "Gauge"}]},
                "notification": {"http": {"url": receiver.url}, "attrs": ["n"]},
            }
            await create_subscription(http, broker.url, sub)
            await create_entity(http, broker.url, "G1")
            for i in range(1, 101):
                await patch_n(http, broker.url, "G1", i)
            broker.kill()  # SIGKILL with 101 notifications owed to a receiver that is down
            receiver.up = True
            broker.start()
            values = lambda: [body["data"][0]["n"]["value"] for body in receiver.bodies]
            await receiver.until(lambda: len(receiver.requests) >= 101 and len(set(values())) >= 101, timeout=30)
        received = values()
        assert sorted(set(received)) == list(range(101))
        assert list(dict.fromkeys(received)) == sorted(set(received))
    finally:
        broker.kill()
