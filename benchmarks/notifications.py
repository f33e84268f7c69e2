"""Notification throughput, latency and loss of a real broker process.

    python -m benchmarks.notifications [--subs 1000] [--types 100] [--updates 2000] [--concurrency 20]

Runs three phases on one broker (`python -m broker`, temporary store) and a local HTTP receiver:

  none      updates with no subscription at all: the baseline update throughput
  healthy   the same updates with SUBS subscriptions over TYPES entity types (each update
            notifies SUBS/TYPES subscriptions); every receiver answers 200
  10% down  the same again, with the receivers of 10% of the subscriptions answering 503;
            after the burst they come back, and every notification must then arrive

and reports updates/s (also as a ratio of the baseline), notifications/s, update-to-receipt
latency p50/p99 (the update carries its send time in its value), notifications lost (must be 0)
and duplicates (delivery is at least once: a notification whose answer timed out is sent again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks.stats import percentile
from tests.process.broker_process import BrokerProcess, free_port

DEFAULT_OUT = Path(tempfile.gettempdir()) / "area-broker-bench" / "notifications.json"


class Receiver:
    """Counts notifications per subscription; `down` subscriptions are answered 503.

    It runs in a process of its own (see `ReceiverProcess`), so receiving thousands of
    notifications does not slow down the clients that send the updates being measured.
    """

    def __init__(self) -> None:
        self.received: dict[str, set[int]] = {}  # subscription -> update numbers (duplicates count once)
        self.duplicates = 0
        self.latencies: list[float] = []
        self.down: set[str] = set()
        self.window = range(0)  # update numbers of the current phase; stragglers of earlier ones are ignored
        self.last_receipt = 0.0  # wall-clock time of the phase's latest new notification

    async def handle(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key in self.down:
            return web.Response(status=503)
        body = await request.json()
        entity = body["data"][0]
        if entity["n"]["value"] not in self.window:
            return web.Response(status=200)
        self.latencies.append(time.time() - entity["sentAt"]["value"])
        seen = self.received.setdefault(key, set())
        if entity["n"]["value"] in seen:
            self.duplicates += 1
        else:
            self.last_receipt = time.time()
        seen.add(entity["n"]["value"])
        return web.Response(status=200)

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "window" in body:
            self.received.clear()
            self.latencies.clear()
            self.duplicates = 0
            self.last_receipt = 0.0
            self.window = range(*body["window"])
        self.down = set(body.get("down", []))
        return web.json_response({})

    async def stats(self, request: web.Request) -> web.Response:
        detail = request.query.get("detail") == "1"
        return web.json_response(
            {
                "received": {k: sorted(v) for k, v in self.received.items()} if detail else {},
                "last_receipt": self.last_receipt,
                "total": sum(len(v) for v in self.received.values()),
                "duplicates": self.duplicates,
                "p50": percentile(self.latencies, 50),
                "p99": percentile(self.latencies, 99),
            }
        )

    def serve(self, port: int) -> None:
        app = web.Application()
        app.router.add_post("/r/{key}", self.handle)
        app.router.add_post("/control", self.control)
        app.router.add_get("/stats", self.stats)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024)


class ReceiverProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self._proc = multiprocessing.get_context("fork").Process(
            target=Receiver().serve, args=(self.port,), daemon=True
        )

    async def start(self, session: aiohttp.ClientSession) -> None:
        self._proc.start()
        for _ in range(200):
            try:
                await self.stats(session)
                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    async def control(self, session: aiohttp.ClientSession, **body: object) -> None:
        async with session.post(f"http://127.0.0.1:{self.port}/control", json=body) as r:
            assert r.status == 200

    async def stats(self, session: aiohttp.ClientSession, *, detail: bool = False) -> dict:
        async with session.get(f"http://127.0.0.1:{self.port}/stats", params={"detail": "1" if detail else "0"}) as r:
            return await r.json()

    def close(self) -> None:
        self._proc.terminate()
        self._proc.join(5)


@dataclass
class Result:
    phase: str
    updates: int
    seconds: float
    updates_per_s: float
    ratio_to_baseline: float
    notifications_expected: int
    notifications_received: int
    notifications_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    drain_seconds: float
    lost: int
    duplicates: int
    missing: list[tuple[str, int]]  # (subscription key, update number) never received, at most 50


async def run_updates(
    session: aiohttp.ClientSession, base: str, n: int, types: int, concurrency: int, offset: int = 0
) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t = i % types
            body = {"sentAt": {"type": "Number", "value": time.time()}, "n": {"type": "Number", "value": i + offset}}
            async with session.patch(f"{base}/v2/entities/E{t}/attrs?type=T{t}", json=body) as r:
                if r.status != 204:
                    raise RuntimeError(f"update answered {r.status}: {await r.text()}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def main_async(args: argparse.Namespace) -> list[Result]:
    receiver = ReceiverProcess()
    tmp = Path(tempfile.mkdtemp(prefix="notif-bench-"))
    broker = BrokerProcess(tmp / "broker.db", args=["-logLevel", "WARN", "-notifRetryWindow", "3600"])
    broker.start()
    results: list[Result] = []
    per_type = args.subs // args.types
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await receiver.start(session)
            entities = [
                {"id": f"E{t}", "type": f"T{t}", "sentAt": {"value": 0}, "n": {"value": 0}} for t in range(args.types)
            ]
            async with session.post(
                f"{broker.url}/v2/op/update", json={"actionType": "append", "entities": entities}
            ) as r:
                assert r.status == 204, await r.text()

            seconds = await run_updates(session, broker.url, args.updates, args.types, args.concurrency)
            baseline = args.updates / seconds
            results.append(Result("none", args.updates, seconds, baseline, 1.0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, []))

            keys = []
            for i in range(args.subs):
                t = i % args.types
                key = f"s{i}"
                keys.append(key)
                sub = {
                    "subject": {"entities": [{"idPattern": ".*", "type": f"T{t}"}]},
                    "notification": {
                        "http": {"url": f"http://127.0.0.1:{receiver.port}/r/{key}"},
                        "attrs": ["sentAt", "n"],
                    },
                }
                async with session.post(f"{broker.url}/v2/subscriptions", json=sub) as r:
                    assert r.status == 201, await r.text()

            for phase, down_share in (("healthy", 0.0), ("10% down", 0.1)):
                expected = args.updates * per_type
                offset = 1_000_000 * (1 + len(results))
                down = random.sample(keys, int(len(keys) * down_share))
                await receiver.control(session, window=[offset, offset + args.updates], down=down)
                started = time.perf_counter()
                started_wall = time.time()
                seconds = await run_updates(session, broker.url, args.updates, args.types, args.concurrency, offset)
                await asyncio.sleep(2.0)
                await receiver.control(session, down=[])  # the receivers come back
                deadline = time.perf_counter() + args.drain_timeout
                stats = await receiver.stats(session)
                while stats["total"] < expected and time.perf_counter() < deadline:
                    await asyncio.sleep(0.2)
                    stats = await receiver.stats(session)
                stats = await receiver.stats(session, detail=True)
                got = stats["total"]
                # notifications/s up to the last new receipt: waiting for stragglers (or for lost
                # ones until the drain timeout) must not dilute the rate
                drained = (stats["last_receipt"] - started_wall) if got else time.perf_counter() - started
                received = {k: set(v) for k, v in stats["received"].items()}
                missing = [
                    (key, offset + j)
                    for i, key in enumerate(keys)
                    for j in range(i % args.types, args.updates, args.types)
                    if offset + j not in received.get(key, ())
                ]
                results.append(
                    Result(
                        phase,
                        args.updates,
                        seconds,
                        args.updates / seconds,
                        (args.updates / seconds) / baseline,
                        expected,
                        got,
                        got / drained,
                        stats["p50"] * 1000,
                        stats["p99"] * 1000,
                        drained,
                        expected - got,
                        stats["duplicates"],
                        missing[:50],
                    )
                )
    finally:
        broker.stop()
        receiver.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--types", type=int, default=100)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(f"{args.subs} subscriptions over {args.types} types, {args.updates} updates, {args.concurrency} clients")
    print(
        f"{'phase':10} {'upd/s':>8} {'x base':>7} {'notif exp':>9} {'recv':>7} {'notif/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'lost':>5} {'dup':>5}"
    )
    for r in results:
        print(
            f"{r.phase:10} {r.updates_per_s:8.0f} {r.ratio_to_baseline:7.2f} {r.notifications_expected:9d} "
            f"{r.notifications_received:7d} {r.notifications_per_s:8.0f} {r.latency_p50_ms:8.1f} {r.latency_p99_ms:8.1f} {r.lost:5d} {r.duplicates:5d}"
        )
    for r in results:
        if r.missing:
            print(f"{r.phase}: missing (subscription, update) {r.missing[:10]}{' ...' if len(r.missing) > 10 else ''}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
