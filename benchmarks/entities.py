"""Entity throughput and latency of a real broker process, relative to its bare HTTP stack.

    python -m benchmarks.entities [--n N] [--concurrency C] [--out FILE] [--log-level LEVEL]

Starts `python -m broker` on a temporary store, then with C concurrent aiohttp clients (one
keep-alive connection each) measures, in this order:

  baseline  GET /version             the HTTP stack and middleware, no storage
  create    POST /v2/entities        N new entities, each acknowledged after its group commit
  get       GET /v2/entities/{id}    the N entities just created, in random order

and reports requests/s and p50/p99 latency for each, with create and get also as ratios against the
baseline of the same run (so results from different machines can be compared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.stats import percentile
from tests.process.broker_process import BrokerProcess

DEFAULT_OUT = Path(tempfile.gettempdir()) / "area-broker-bench" / "entities.json"

Call = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


@dataclass
class Phase:
    name: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def entity(i: int) -> dict[str, Any]:
    """A small but typical entity: a few typed attributes, one with metadata."""
    return {
        "id": f"urn:ngsi-ld:Sensor:{i:07d}",
        "type": "Sensor",
        "temperature": {
            "type": "Number",
            "value": 20 + i % 10 + 0.5,
            "metadata": {"unit": {"type": "Text", "value": "CEL"}},
        },
        "humidity": {"type": "Number", "value": i % 100},
        "name": {"type": "Text", "value": f"sensor {i}"},
        "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [-3.7 + i * 1e-6, 40.4]}},
    }


async def run_phase(name: str, url: str, n: int, concurrency: int, call: Call, ok: int) -> Phase:
    """`n` calls shared by `concurrency` clients; a call returning a status other than `ok` is an error."""
    next_index = iter(range(n))
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:
            for i in next_index:
                t0 = time.perf_counter()
                try:
                    status = await call(s, i)
                except (TimeoutError, aiohttp.ClientError):
                    status = -1
                latencies.append(time.perf_counter() - t0)
                if status != ok:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return Phase(
        name=name,
        requests=n,
        errors=errors,
        seconds=round(seconds, 3),
        rps=round(n / seconds, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 2),
        p99_ms=round(percentile(latencies, 99) * 1000, 2),
        max_ms=round(latencies[-1] * 1000, 2) if latencies else float("nan"),
    )


async def get_version(s: aiohttp.ClientSession, i: int) -> int:
    async with s.get("/version") as resp:
        await resp.read()
        return resp.status


async def create(s: aiohttp.ClientSession, i: int) -> int:
    async with s.post("/v2/entities", json=entity(i)) as resp:
        await resp.read()
        return resp.status


def getter(order: list[int]) -> Call:
    paths = [f"/v2/entities/{entity(i)['id']}" for i in order]

    async def get(s: aiohttp.ClientSession, i: int) -> int:
        async with s.get(paths[i]) as resp:
            await resp.read()
            return resp.status

    return get


async def measure(url: str, n: int, concurrency: int) -> list[Phase]:
    await run_phase("warm-up", url, min(n, 500), concurrency, get_version, 200)
    baseline = await run_phase("baseline GET /version", url, n, concurrency, get_version, 200)
    created = await run_phase("create POST /v2/entities", url, n, concurrency, create, 201)
    order = list(range(n))
    random.Random(1).shuffle(order)
    got = await run_phase("get GET /v2/entities/{id}", url, n, concurrency, getter(order), 200)
    return [baseline, created, got]


def table(phases: list[Phase]) -> str:
    base = phases[0]
    rows = [f"{'phase':<28} {'req/s':>9} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"]
    for p in phases:
        rows.append(
            f"{p.name:<28} {p.rps:>9.0f} {p.rps / base.rps:>7.2f} {p.p50_ms:>8.2f} {p.p99_ms:>8.2f} "
            f"{p.max_ms:>8.2f} {p.errors:>6}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entities", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="requests per phase (default 3000)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument("--log-level", default="WARN", help="the broker's -logLevel (default WARN, as Orion's)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="area-broker-bench-") as tmp:
        broker = BrokerProcess(Path(tmp) / "broker.db", args=["-logLevel", args.log_level])
        try:
            startup = broker.start()
            phases = asyncio.run(measure(broker.url, args.n, args.concurrency))
        finally:
            if broker.proc is not None and broker.proc.poll() is None:
                broker.stop()
        store_bytes = sum(f.stat().st_size for f in Path(tmp).glob("broker.db*"))

    base = phases[0]
    results = {
        "benchmark": "entities",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n": args.n,
        "concurrency": args.concurrency,
        "broker_log_level": args.log_level,
        "startup_seconds": round(startup, 3),
        "store_bytes_after_run": store_bytes,
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "aiohttp": aiohttp.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "phases": [asdict(p) for p in phases],
        "ratios_to_baseline": {
            p.name.split()[0]: {"rps": round(p.rps / base.rps, 3), "p50": round(p.p50_ms / base.p50_ms, 3)}
            for p in phases[1:]
        },
    }
    print(
        f"broker up in {startup:.2f} s; {args.n} requests per phase, {args.concurrency} clients, "
        f"-logLevel {args.log_level}, {os.cpu_count()} CPUs (clients and broker share them)"
    )
    print(table(phases))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.out}")
    return 1 if any(p.errors for p in phases) else 0


if __name__ == "__main__":
    sys.exit(main())
