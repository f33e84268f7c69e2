"""Latency from an update's 2xx answer to its notification's arrival at the receiver.

    python -m benchmarks.notification_latency [--updates 200] [--repo DIR]

Starts a broker (`python -m broker`, temporary SQLite store: the delivery worker process sends the
notifications), one subscription and a local receiver, then sends updates one after the other:
each waits for its notification before the next. Reports p50/p99/max of (receipt - answer) in ms;
a negative value means the notification arrived before the client had read the update's answer.
`--repo` runs the broker of another checkout (e.g. the main branch, for a before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks.stats import percentile
from tests.process import broker_process
from tests.process.broker_process import BrokerProcess, free_port


async def measure(updates: int, repo: Path | None) -> dict[str, float]:
    arrived: dict[int, float] = {}
    waiting: dict[int, asyncio.Future[None]] = {}

    async def handle(request: web.Request) -> web.Response:
        now = time.perf_counter()
        n = (await request.json())["data"][0]["n"]["value"]
        arrived[n] = now
        fut = waiting.get(n)
        if fut is not None and not fut.done():
            fut.set_result(None)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    with tempfile.TemporaryDirectory() as tmp:
        if repo is not None:
            broker_process.REPO_ROOT = repo  # the broker of that checkout: its cwd comes first on sys.path
        broker = BrokerProcess(Path(tmp) / "broker.db", args=["-logLevel", "WARN"])
        broker.start()
        try:
            async with aiohttp.ClientSession() as http:
                sub = {
                    "subject": {"entities": [{"id": "L1", "type": "Lat"}]},
                    "notification": {"http": {"url": f"http://127.0.0.1:{port}/notify"}, "attrs": ["n"]},
                }
                async with http.post(f"{broker.url}/v2/subscriptions", json=sub) as r:
                    assert r.status == 201
                async with http.post(
                    f"{broker.url}/v2/entities", json={"id": "L1", "type": "Lat", "n": {"value": 0}}
                ) as r:
                    assert r.status == 201
                await asyncio.sleep(1.0)  # the first notification, and a warm worker
                gaps: list[float] = []
                for i in range(1, updates + 1):
                    waiting[i] = asyncio.get_running_loop().create_future()
                    async with http.patch(f"{broker.url}/v2/entities/L1/attrs", json={"n": {"value": i}}) as r:
                        await r.read()
                        assert r.status == 204
                        answered = time.perf_counter()
                    await asyncio.wait_for(waiting[i], timeout=10)
                    gaps.append((arrived[i] - answered) * 1000)
        finally:
            broker.stop()
            await runner.cleanup()
    return {
        "updates": updates,
        "p50_ms": round(percentile(gaps, 50), 3),
        "p99_ms": round(percentile(gaps, 99), 3),
        "max_ms": round(max(gaps), 3),
        "min_ms": round(min(gaps), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notification_latency")
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--repo", type=Path, default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.updates, args.repo))))


if __name__ == "__main__":
    main()
