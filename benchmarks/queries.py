"""Query latency of a real broker process at N entities, against a client-side full scan of the same data.

    python -m benchmarks.queries [--n 100000] [--small 10000] [--clients 4] [--requests 200]
                                 [--phase-seconds 20] [--out FILE] [--keep-store DIR]

Starts `python -m broker` on a temporary store, loads N `Sensor` entities with `POST /v2/op/update`
(actionType append, batches of `--batch` entities, `--load-concurrency` batches in flight), then
measures with `--clients` sequential clients (`--requests` requests each, or `--phase-seconds`):

  get    GET /v2/entities/{id}                                   one entity by id
  q      GET /v2/entities?q=temperature>99.9&limit=100            a selective filter (~0.1 %)
  near   GET /v2/entities?georel=near;maxDistance:1000&...        random centres, limit=100
  deep   GET /v2/entities?orderBy=temperature&offset=N/2&limit=20 deep paging on an attribute

Each is compared with the baseline of the same run: a "full scan" that pages through ALL entities
(`GET /v2/entities?limit=1000&offset=...`) and computes the same answer client-side; the speed-up is
scan time / query p50. Then a fresh broker with `--small` entities repeats q and near, to show how
their latency grows from `--small` to N (sub-linear when the ratio is well under N/small).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks.stats import percentile
from tests.process.broker_process import BrokerProcess

DEFAULT_OUT = Path(tempfile.gettempdir()) / "area-broker-bench" / "queries.json"

CENTER_LAT, CENTER_LON = 43.06, 141.35  # Sapporo
HALF_SIDE_M = 25_000.0  # the area is ~50 km x 50 km
EARTH_RADIUS_M = 6378100.0  # as the broker (MongoDB's 2dsphere radius)
DLAT = math.degrees(HALF_SIDE_M / EARTH_RADIUS_M)
DLON = DLAT / math.cos(math.radians(CENTER_LAT))
DISTRICTS = [f"district-{k:02d}" for k in range(50)]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

Q_THRESHOLD = 99.9
NEAR_METRES = 1000
PAGE = 1000  # the broker's largest page (Orion's max limit)
TIMEOUT = aiohttp.ClientTimeout(total=300)

Request = Callable[[int], str]  # request index -> path and query string


# -- data ----------------------------------------------------------------------------------------
@dataclass
class Row:
    """What the benchmark knows about one entity, for the client-side answers."""

    id: str
    temperature: float
    lat: float
    lon: float


def entity_id(i: int) -> str:
    return f"urn:ngsi-ld:Sensor:{i:07d}"


def make_entity(i: int, rng: random.Random) -> dict[str, Any]:
    """Sensor i: temperature U(0,100), one of 50 districts, a DateTime and a geo:point in the area."""
    lat = CENTER_LAT + rng.uniform(-DLAT, DLAT)
    lon = CENTER_LON + rng.uniform(-DLON, DLON)
    observed = EPOCH + timedelta(seconds=rng.randrange(0, 365 * 86400))
    return {
        "id": entity_id(i),
        "type": "Sensor",
        "temperature": {"type": "Number", "value": round(rng.uniform(0, 100), 6)},
        "district": {"type": "Text", "value": DISTRICTS[rng.randrange(len(DISTRICTS))]},
        "observedAt": {"type": "DateTime", "value": observed.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
        "location": {"type": "geo:point", "value": f"{lat:.6f}, {lon:.6f}"},
    }


def row_of(doc: dict[str, Any]) -> Row:
    lat_s, lon_s = doc["location"]["value"].split(",")
    return Row(doc["id"], float(doc["temperature"]["value"]), float(lat_s), float(lon_s))


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def random_centres(count: int, seed: int) -> list[tuple[float, float]]:
    """Centres inside the area, rounded as they are sent (6 decimals), so both sides use the same point."""
    rng = random.Random(seed)
    return [
        (round(CENTER_LAT + rng.uniform(-DLAT, DLAT), 6), round(CENTER_LON + rng.uniform(-DLON, DLON), 6))
        for _ in range(count)
    ]


# -- the client-side answers ---------------------------------------------------------------------
def answer_get(rows: list[Row], wanted: str) -> list[str]:
    return [r.id for r in rows if r.id == wanted]


def answer_q(rows: list[Row], threshold: float = Q_THRESHOLD) -> list[str]:
    """Every match of q=temperature>threshold, in creation order (the default order)."""
    return [r.id for r in rows if r.temperature > threshold]


def answer_near(rows: list[Row], lat: float, lon: float, metres: float = NEAR_METRES) -> list[str]:
    """Every entity within `metres`, nearest first (ties in creation order)."""
    hits = [(haversine(r.lon, r.lat, lon, lat), k, r.id) for k, r in enumerate(rows)]
    return [i for d, _, i in sorted(h for h in hits if h[0] <= metres)]


def answer_deep(rows: list[Row], offset: int, limit: int) -> list[str]:
    """orderBy=temperature (ties in creation order), one page at `offset`."""
    order = sorted(range(len(rows)), key=lambda k: (rows[k].temperature, k))
    return [rows[k].id for k in order[offset : offset + limit]]


# -- HTTP ----------------------------------------------------------------------------------------
def session(url: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=1), timeout=TIMEOUT)


async def get_json(s: aiohttp.ClientSession, path: str) -> tuple[int, Any, dict[str, str]]:
    async with s.get(path) as resp:
        body = await resp.read()
        return resp.status, (orjson.loads(body) if body else None), dict(resp.headers)


@dataclass
class Load:
    entities: int
    batch: int
    concurrency: int
    seconds: float
    entities_per_s: float
    errors: int


async def load(url: str, n: int, batch: int, concurrency: int, seed: int) -> tuple[Load, list[dict[str, Any]]]:
    """N entities through POST /v2/op/update (append), `concurrency` batches in flight."""
    rng = random.Random(seed)
    docs = [make_entity(i, rng) for i in range(n)]
    bodies = [orjson.dumps({"actionType": "append", "entities": docs[k : k + batch]}) for k in range(0, n, batch)]
    next_body = iter(bodies)
    errors = 0
    done = 0
    started = time.perf_counter()

    async def loader() -> None:
        nonlocal errors, done
        async with session(url) as s:
            for body in next_body:
                async with s.post("/v2/op/update", data=body, headers={"Content-Type": "application/json"}) as resp:
                    text = await resp.read()
                    if resp.status != 204:
                        errors += 1
                        if errors <= 3:
                            print(f"  load error {resp.status}: {text[:300]!r}", file=sys.stderr)
                done += body.count(b'"type":"Sensor"')
                if done % (batch * 20) == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  loaded {done}/{n} ({rate:.0f} entities/s)", file=sys.stderr, flush=True)

    await asyncio.gather(*(loader() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Load(n, batch, concurrency, round(seconds, 2), round(n / seconds, 1), errors), docs


@dataclass
class Phase:
    name: str
    size: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


async def run_phase(
    name: str, size: int, url: str, request: Request, clients: int, per_client: int, max_seconds: float
) -> Phase:
    """`clients` sequential clients, `per_client` requests each or until `max_seconds` have passed."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def client(c: int) -> None:
        nonlocal errors
        async with session(url) as s:
            for k in range(per_client):
                if time.perf_counter() > deadline:
                    break
                t0 = time.perf_counter()
                try:
                    async with s.get(request(c * per_client + k)) as resp:
                        await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError):
                    status = -1
                latencies.append(time.perf_counter() - t0)
                errors += status != 200

    await asyncio.gather(*(client(c) for c in range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return Phase(
        name=name,
        size=size,
        requests=len(latencies),
        errors=errors,
        seconds=round(seconds, 2),
        rps=round(len(latencies) / seconds, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 2),
        p99_ms=round(percentile(latencies, 99) * 1000, 2),
        max_ms=round(latencies[-1] * 1000, 2),
    )


@dataclass
class Scan:
    """Paging through all entities: one client, pages of 1000, in the default order."""

    size: int
    pages: int
    seconds: list[float] = field(default_factory=list)  # one per repetition
    answer_ms: dict[str, float] = field(default_factory=dict)  # client-side work per query

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def baseline(self, query: str) -> float:
        """Seconds for the full-scan answer to `query`: fetching everything plus the client-side work."""
        return self.median + self.answer_ms[query] / 1000


async def full_scan(url: str) -> tuple[float, int, list[Row]]:
    rows: list[Row] = []
    pages = 0
    started = time.perf_counter()
    async with session(url) as s:
        offset = 0
        while True:
            status, body, _ = await get_json(s, f"/v2/entities?type=Sensor&limit={PAGE}&offset={offset}")
            if status != 200:
                raise RuntimeError(f"scan page at offset {offset}: {status} {body}")
            pages += 1
            rows.extend(row_of(doc) for doc in body)
            if len(body) < PAGE:
                break
            offset += PAGE
    return time.perf_counter() - started, pages, rows


def timed_ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


# -- the queries ---------------------------------------------------------------------------------
def q_path(threshold: float = Q_THRESHOLD, limit: int = 100, count: bool = False) -> str:
    return f"/v2/entities?type=Sensor&q=temperature>{threshold:g}&limit={limit}" + ("&options=count" if count else "")


def near_path(lat: float, lon: float, metres: float = NEAR_METRES, limit: int = 100, count: bool = False) -> str:
    return (
        f"/v2/entities?type=Sensor&georel=near;maxDistance:{metres:g}&geometry=point&coords={lat:.6f},{lon:.6f}"
        f"&limit={limit}" + ("&options=count" if count else "")
    )


def deep_path(offset: int, limit: int = 20) -> str:
    return f"/v2/entities?type=Sensor&orderBy=temperature&offset={offset}&limit={limit}"


Variant = tuple[float, float]  # (q threshold, near radius in metres)


@dataclass
class Check:
    query: str
    size: int
    broker_total: int | None
    client_total: int
    page_matches: bool
    ok: bool


async def check_results(
    url: str, n: int, rows: list[Row], centres: list[tuple[float, float]], variants: dict[str, Variant]
) -> list[Check]:
    """The broker's totals and first pages equal the client-side answers from the scan."""
    checks: list[Check] = []
    async with session(url) as s:
        for name, (threshold, metres) in variants.items():
            expected = answer_q(rows, threshold)
            status, body, headers = await get_json(s, q_path(threshold, count=True))
            total = int(headers.get("Fiware-Total-Count", -1)) if status == 200 else None
            page_ok = status == 200 and [e["id"] for e in body] == expected[:100]
            checks.append(
                Check(f"q{name} >{threshold:g}", n, total, len(expected), page_ok, page_ok and total == len(expected))
            )
            for lat, lon in centres:
                expected = answer_near(rows, lat, lon, metres)
                status, body, headers = await get_json(s, near_path(lat, lon, metres, count=True))
                total = int(headers.get("Fiware-Total-Count", -1)) if status == 200 else None
                page_ok = status == 200 and [e["id"] for e in body] == expected[:100]
                checks.append(
                    Check(
                        f"near{name} {metres:g} m {lat:.4f},{lon:.4f}",
                        n,
                        total,
                        len(expected),
                        page_ok,
                        page_ok and total == len(expected),
                    )
                )
        if n > 0:
            offset = n // 2
            expected = answer_deep(rows, offset, 20)
            status, body, _ = await get_json(s, deep_path(offset))
            page_ok = status == 200 and [e["id"] for e in body] == expected
            checks.append(Check("deep", n, None, len(expected), page_ok, page_ok))
    return checks


# -- one broker ----------------------------------------------------------------------------------
@dataclass
class Run:
    size: int
    startup_seconds: float
    load: Load
    scan: Scan
    phases: list[Phase]
    checks: list[Check]
    store_bytes: int


def variants_for(n: int, big: int) -> dict[str, Variant]:
    """The same q and near everywhere (""), plus at a smaller size ("=") a threshold and a radius that
    select as many entities as the same query does at `big` (the density grows with N)."""
    out: dict[str, Variant] = {"": (Q_THRESHOLD, NEAR_METRES)}
    if n < big:
        scale = big / n
        out["="] = (round(100 - (100 - Q_THRESHOLD) * scale, 6), round(NEAR_METRES * math.sqrt(scale)))
    return out


async def bench_size(
    url: str, n: int, args: argparse.Namespace, names: tuple[str, ...], seed: int
) -> tuple[Load, Scan, list[Phase], list[Check]]:
    print(f"[N={n}] loading {n} entities: batches of {args.batch}, {args.load_concurrency} in flight", flush=True)
    loaded, docs = await load(url, n, args.batch, args.load_concurrency, seed)
    print(
        f"[N={n}] loaded in {loaded.seconds:.1f} s = {loaded.entities_per_s:.0f} entities/s, {loaded.errors} errors",
        flush=True,
    )
    ids = [d["id"] for d in docs]
    del docs

    scan = Scan(size=n, pages=0)
    rows: list[Row] = []
    for _ in range(args.scans):
        seconds, scan.pages, rows = await full_scan(url)
        scan.seconds.append(round(seconds, 3))
    print(f"[N={n}] full scan: {scan.pages} pages, {', '.join(f'{s:.2f}' for s in scan.seconds)} s", flush=True)
    if len(rows) != n:
        raise RuntimeError(f"the scan saw {len(rows)} entities, {n} were loaded")

    centres = random_centres(max(args.requests * args.clients, 1), seed + 1)
    order = list(range(n))
    random.Random(seed + 2).shuffle(order)
    variants = variants_for(n, args.n)
    scan.answer_ms = {
        "get": round(timed_ms(lambda: answer_get(rows, ids[order[0]])), 3),
        "deep": round(timed_ms(lambda: answer_deep(rows, n // 2, 20)), 3),
    }
    requests: dict[str, Request] = {
        "get": lambda k: f"/v2/entities/{ids[order[k % n]]}",
        "deep": lambda k: deep_path(n // 2),
    }
    for suffix, (threshold, metres) in variants.items():
        scan.answer_ms["q" + suffix] = round(timed_ms(lambda t=threshold: answer_q(rows, t)), 3)
        scan.answer_ms["near" + suffix] = round(timed_ms(lambda m=metres: answer_near(rows, *centres[0], m)), 3)
        requests["q" + suffix] = lambda k, t=threshold: q_path(t)
        requests["near" + suffix] = lambda k, m=metres: near_path(*centres[k % len(centres)], m)
        DESCRIPTIONS["q" + suffix] = f"q=temperature>{threshold:g} limit=100"
        DESCRIPTIONS["near" + suffix] = f"near maxDistance:{metres:g} limit=100"
    phases: list[Phase] = []
    for name in [m for m in names if m in requests]:
        phase = await run_phase(name, n, url, requests[name], args.clients, args.requests, args.phase_seconds)
        print(f"[N={n}] {name}: {phase.requests} requests, p50 {phase.p50_ms} ms, p99 {phase.p99_ms} ms", flush=True)
        phases.append(phase)

    checks = await check_results(url, n, rows, random_centres(args.check_centres, seed + 3), variants)
    return loaded, scan, phases, checks


def run_broker(n: int, args: argparse.Namespace, names: tuple[str, ...], seed: int) -> Run:
    keep = args.keep_store
    with tempfile.TemporaryDirectory(prefix="area-broker-bench-") as tmp:
        store_dir = Path(keep) / f"n{n}" if keep else Path(tmp)
        store_dir.mkdir(parents=True, exist_ok=True)
        for old in store_dir.glob("broker.db*"):
            old.unlink()
        broker = BrokerProcess(store_dir / "broker.db", args=["-logLevel", args.log_level])
        try:
            startup = broker.start()
            loaded, scan, phases, checks = asyncio.run(bench_size(broker.url, n, args, names, seed))
        finally:
            if broker.proc is not None and broker.proc.poll() is None:
                broker.stop()
        store_bytes = sum(f.stat().st_size for f in store_dir.glob("broker.db*"))
    return Run(n, round(startup, 3), loaded, scan, phases, checks, store_bytes)


# -- report --------------------------------------------------------------------------------------
DESCRIPTIONS = {  # the q and near variants add themselves
    "get": "GET /v2/entities/{id}",
    "deep": "orderBy=temperature offset=N/2 limit=20",
}


def table(runs: list[Run]) -> str:
    head = (
        f"{'query':<42} {'N':>7} {'reqs':>5} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'scan s':>7} "
        f"{'speed-up':>9} {'errors':>6}"
    )
    rows = [head]
    for run in runs:
        for p in run.phases:
            scan = run.scan.baseline(p.name)
            rows.append(
                f"{DESCRIPTIONS[p.name]:<42} {p.size:>7} {p.requests:>5} {p.rps:>7.1f} {p.p50_ms:>8.2f} "
                f"{p.p99_ms:>8.2f} {scan:>7.2f} {scan * 1000 / p.p50_ms:>8.0f}x {p.errors:>6}"
            )
    return "\n".join(rows)


def growth(big: Run, small: Run) -> dict[str, dict[str, float]]:
    """Latency at N over latency at the small size: for the same query ("q") and for the small-size
    variant that selects as many entities as the query does at N ("q=")."""
    out: dict[str, dict[str, float]] = {}
    at_big = {p.name: p for p in big.phases}
    for s in small.phases:
        p = at_big.get(s.name.rstrip("="))
        if p is not None:
            out[s.name] = {"p50_ratio": round(p.p50_ms / s.p50_ms, 2), "p99_ratio": round(p.p99_ms / s.p99_ms, 2)}
    out["scan"] = {"ratio": round(big.scan.median / small.scan.median, 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queries", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="entities for the main run (default 100000)")
    parser.add_argument(
        "--small", type=int, default=10_000, help="entities for the growth run; 0 skips it (default 10000)"
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent sequential clients per phase (default 4)")
    parser.add_argument("--requests", type=int, default=200, help="requests per client per phase (default 200)")
    parser.add_argument("--phase-seconds", type=float, default=20.0, help="time bound of one phase (default 20)")
    parser.add_argument(
        "--scans", type=int, default=2, help="full scans per size; the median is the baseline (default 2)"
    )
    parser.add_argument("--batch", type=int, default=1000, help="entities per POST /v2/op/update (default 1000)")
    parser.add_argument("--load-concurrency", type=int, default=4, help="batches in flight while loading (default 4)")
    parser.add_argument(
        "--check-centres", type=int, default=20, help="near queries checked against the scan (default 20)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument(
        "--keep-store", type=Path, help="keep each store under DIR/n<N>/broker.db (for EXPLAIN QUERY PLAN)"
    )
    parser.add_argument("--log-level", default="WARN", help="the broker's -logLevel (default WARN)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(
        f"N={args.n}, small={args.small}; {args.clients} clients x {args.requests} requests "
        f"(or {args.phase_seconds:.0f} s) per phase; {os.cpu_count()} CPUs shared by clients and broker",
        flush=True,
    )
    runs = [run_broker(args.n, args, ("get", "q", "near", "deep"), args.seed)]
    if args.small:
        runs.append(run_broker(args.small, args, ("q", "near", "q=", "near="), args.seed + 100))
    total = time.perf_counter() - started

    results: dict[str, Any] = {
        "benchmark": "queries",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n": args.n,
        "small": args.small,
        "clients": args.clients,
        "requests_per_client": args.requests,
        "phase_seconds": args.phase_seconds,
        "total_seconds": round(total, 1),
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "aiohttp": aiohttp.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "runs": [
            {
                "size": r.size,
                "startup_seconds": r.startup_seconds,
                "store_bytes": r.store_bytes,
                "load": asdict(r.load),
                "scan": {**asdict(r.scan), "median_seconds": r.scan.median},
                "phases": [
                    {
                        **asdict(p),
                        "scan_seconds": round(r.scan.baseline(p.name), 3),
                        "speed_up": round(r.scan.baseline(p.name) * 1000 / p.p50_ms, 1),
                    }
                    for p in r.phases
                ],
                "checks": [asdict(c) for c in r.checks],
            }
            for r in runs
        ],
    }
    if len(runs) == 2:
        results["growth"] = growth(runs[0], runs[1])

    print()
    for r in runs:
        print(
            f"N={r.size}: loaded in {r.load.seconds:.1f} s ({r.load.entities_per_s:.0f} entities/s, "
            f"batches of {r.load.batch}, {r.load.concurrency} in flight); full scan {r.scan.pages} pages, "
            f"median {r.scan.median:.2f} s; store {r.store_bytes / 1e6:.0f} MB"
        )
    print(table(runs))
    if "growth" in results:
        g = results["growth"]
        factor = args.n / args.small
        print(f"latency growth {args.small} -> {args.n} entities (x{factor:g} data; linear would be x{factor:g}):")
        for name, ratio in g.items():
            if name == "scan":
                print(f"  full scan                    x{ratio['ratio']}")
                continue
            small_desc, big_desc = DESCRIPTIONS[name], DESCRIPTIONS[name.rstrip("=")]
            how = "same query" if small_desc == big_desc else f"vs {small_desc.split(' limit')[0]} at {args.small}"
            print(f"  {big_desc:<42} p50 x{ratio['p50_ratio']:<6} p99 x{ratio['p99_ratio']:<6} ({how})")
    failed = [c for r in runs for c in r.checks if not c.ok]
    for r in runs:
        ok = sum(c.ok for c in r.checks)
        print(f"checks N={r.size}: {ok}/{len(r.checks)} ok (broker total = scan count and first page = scan's)")
        for prefix in sorted({c.query.split(" ")[0] for c in r.checks}):
            group = [c for c in r.checks if c.query.split(" ")[0] == prefix]
            if prefix.startswith("deep"):
                print(f"  deep page ids equal: {group[0].page_matches}")
            elif len(group) == 1:
                c = group[0]
                print(f"  {c.query}: broker {c.broker_total}, scan {c.client_total}")
            else:
                totals = [c.broker_total for c in group]
                print(
                    f"  {prefix} {group[0].query.split(' ')[1]} m, {len(group)} centres: broker {totals}, "
                    f"scan {[c.client_total for c in group]}"
                )
    for c in failed:
        print(f"  MISMATCH {c}")
    print(f"total {total:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.out}")
    errors = sum(p.errors for r in runs for p in r.phases) + sum(r.load.errors for r in runs)
    return 1 if errors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
