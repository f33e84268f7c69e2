"""Notifications owed when the broker is killed are delivered after it restarts (the outbox is durable)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from tests.process.broker_process import BrokerProcess, free_port


async def test_owed_notifications_survive_sigkill(tmp_path: Path) -> None:
    received: list[int] = []
    state = {"up": False}

    async def handle(request: web.Request) -> web.Response:
        if not state["up"]:
            return web.Response(status=503)
        received.append(orjson.loads(await request.read())["data"][0]["n"]["value"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    broker = BrokerProcess(tmp_path / "broker.db", args=["-logLevel", "WARN"])
    broker.start()
    try:
        async with aiohttp.ClientSession() as http:
            sub = {
                "subject": {"entities": [{"id": "G1", "type": "Gauge"}]},
                "notification": {"http": {"url": f"http://127.0.0.1:{port}/notify"}, "attrs": ["n"]},
            }
            async with http.post(f"{broker.url}/v2/subscriptions", json=sub) as r:
                assert r.status == 201
            async with http.post(
                f"{broker.url}/v2/entities", json={"id": "G1", "type": "Gauge", "n": {"value": 0}}
            ) as r:
                assert r.status == 201
            for i in range(1, 101):
                async with http.patch(f"{broker.url}/v2/entities/G1/attrs", json={"n": {"value": i}}) as r:
                    assert r.status == 204
            broker.kill()  # SIGKILL with 101 notifications owed to a receiver that is down
            state["up"] = True
            broker.start()
            deadline = time.monotonic() + 30
            while len(set(received)) < 101 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        assert sorted(set(received)) == list(range(101))
        assert list(dict.fromkeys(received)) == sorted(set(received))
    finally:
        broker.kill()
        await runner.cleanup()
