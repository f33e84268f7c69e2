"""Black-box throughput and latency of `python -m broker -workers 2` under `wrk`, against a ceiling.

    python -m benchmarks.http_load [--connections 16] [--sizes 10000] [--duration 5] [--out FILE]
    python -m benchmarks.http_load --connections 1,16,128 --sizes 10000,1000000   # the full matrix

For each store size N: a fresh store is seeded with N `Sensor` entities through `POST /v2/op/update`
batches, the broker is restarted on it (the start-up time at N is reported), and every scenario is
driven by `wrk` (Lua scripts in benchmarks/wrk/) at each connection count for `--duration` seconds.
Right after each run, the same wrk script runs against the bare ceiling (benchmarks/ceiling.py: as
many aiohttp processes as the broker has workers, answering the same routes with the broker's bytes,
no storage), so `x ceil` compares the two under the same load on the same machine at the same time.

Scenarios (one entity per request unless said):

  create   POST /v2/entities                       201, a new entity per request
  update   PATCH /v2/entities/{id}/attrs           204, a random seeded entity
  get      GET /v2/entities/{id}                   200
  list_q   GET /v2/entities?type=Sensor&q=humidity==K&limit=20    (1% of N match)
  batch    POST /v2/op/update, 100 entities        204
  notify   PATCH of an entity watched by 10 subscriptions notifying a local receiver

Reported per run: requests/s, p50/p99/p99.9 latency (wrk's, with a 10 s request time-out),
errors (connect/read/write/timeouts and statuses >= 400), CPU ms per request of the broker's
whole process tree (supervisor, workers, delivery worker, log writer) from /proc, its summed RSS
after the run, the ceiling's requests/s and the ratio. The disk's fdatasync rate, which bounds
durable group commits, is measured first. Everything listens on 127.0.0.1 only; every process is
stopped at the end, also on errors or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.fsync_rate import fsync_rate
from tests.process.broker_process import REPO_ROOT, BrokerProcess, free_port, version_status

WRK_DIR = Path(__file__).resolve().parent / "wrk"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "area-broker-bench" / "http_load"
SCENARIOS = ("create", "update", "get", "list_q", "batch", "notify")
NOTIFIED = 100  # entities of type Notified
SUBSCRIPTIONS = 10  # subscriptions on them, each notifying the receiver
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    scenario: str
    entities: int
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: int
    cpu_ms_per_req: float
    rss_mb: float
    ceiling_rps: float | None = None
    ratio: float | None = None
    load_before: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- processes -------------------------------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Ceiling:
    """`workers` processes of benchmarks.ceiling on one port."""

    def __init__(self, workers: int, get_body: Path, list_body: Path) -> None:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.ceiling",
            "--port",
            str(self.port),
            "--get-body",
            str(get_body),
            "--list-body",
            str(list_body),
        ]
        self.procs = [subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=subprocess.DEVNULL) for _ in range(workers)]
        deadline = time.monotonic() + 15
        while version_status_any(self.port) is None:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise RuntimeError("the ceiling app did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def settle(pids: list[int], limit: float = 120.0, window: float = 0.5) -> float:
    """Seconds until the processes use under 10% of a core over `window`, at most `limit`."""
    started = time.monotonic()
    before = cpu_seconds(pids)
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = cpu_seconds(pids)
        if now - before < 0.1 * window:
            break
        before = now
    return round(time.monotonic() - started, 1)


def version_status_any(port: int) -> int | None:
    """Any HTTP answer on the port (the ceiling has no /version: a 404 means it is up)."""
    return version_status(port, timeout=0.5)


# --- load ------------------------------------------------------------------------------------------


def sensor(i: int) -> dict[str, Any]:
    """The seeded entity: the same shape as create.lua's."""
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
        "location": {
            "type": "geo:json",
            "value": {"type": "Point", "coordinates": [-3.7 + (i % 1000) * 1e-4, 40.4 + (i // 1000 % 1000) * 1e-4]},
        },
    }


async def seed(url: str, n: int, batch: int = 1000, in_flight: int = 2) -> float:
    """N Sensor entities and the Notified ones through op/update appends; returns entities/s."""
    starts: Iterator[int] = iter(range(0, n, batch))
    t0 = time.perf_counter()

    async def loader(s: aiohttp.ClientSession) -> None:
        for start in starts:
            body = {"actionType": "append", "entities": [sensor(i) for i in range(start, min(n, start + batch))]}
            async with s.post("/v2/op/update", json=body) as r:
                if r.status != 204:
                    raise RuntimeError(f"seeding failed: {r.status} {await r.text()}")

    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=600)) as s:
        await asyncio.gather(*(loader(s) for _ in range(in_flight)))
        notified = [
            {"id": f"urn:ngsi-ld:Notified:{k:03d}", "type": "Notified", "count": {"type": "Number", "value": 0}}
            for k in range(NOTIFIED)
        ]
        async with s.post("/v2/op/update", json={"actionType": "append", "entities": notified}) as r:
            assert r.status == 204, await r.text()
    return n / (time.perf_counter() - t0)


async def capture_bodies(url: str, directory: Path) -> tuple[Path, Path]:
    """The broker's answers to a get and a list_q request, for the ceiling to send back."""
    async with aiohttp.ClientSession(url) as s:
        async with s.get("/v2/entities/urn:ngsi-ld:Sensor:0000000") as r:
            get_body = await r.read()
        async with s.get("/v2/entities", params={"type": "Sensor", "q": "humidity==42", "limit": "20"}) as r:
            list_body = await r.read()
    (directory / "get.json").write_bytes(get_body)
    (directory / "list.json").write_bytes(list_body)
    return directory / "get.json", directory / "list.json"


async def subscribe(url: str, receiver: str) -> None:
    async with aiohttp.ClientSession(url) as s:
        for _ in range(SUBSCRIPTIONS):
            body = {
                "subject": {"entities": [{"idPattern": ".*", "type": "Notified"}]},
                "notification": {"http": {"url": f"{receiver}/notify"}},
            }
            async with s.post("/v2/subscriptions", json=body) as r:
                assert r.status == 201, await r.text()


async def received(receiver: str) -> int:
    async with aiohttp.ClientSession(receiver) as s:
        async with s.get("/notify/count") as r:
            return int((await r.json())["received"])


def wrk(url: str, scenario: str, connections: int, duration: float, n: int, tag: str) -> dict[str, Any]:
    """One wrk run of a scenario script; its JSON summary."""
    env = dict(os.environ, BENCH_WRK_DIR=str(WRK_DIR), BENCH_N=str(n), BENCH_RUN=tag)
    cmd = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_DIR / f"{scenario}.lua"),
        url,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise RuntimeError(f"wrk gave no summary ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def errors_of(summary: dict[str, Any]) -> int:
    return sum(v for k, v in summary.items() if k.startswith("err_"))


# --- the run ---------------------------------------------------------------------------------------


def server_uses_mongo(args: argparse.Namespace) -> bool:
    return bool(args.ferretdb or args.mongo_uri)


def measure_size(args: argparse.Namespace, n: int, base: Path, results: list[Run], sizes: dict[str, Any]) -> None:
    store = base / f"n{n}"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    broker_args = ["-workers", str(args.workers), "-logLevel", "WARN", "-localIp", "127.0.0.1"]
    ceiling: Ceiling | None = None
    receiver: Ceiling | None = None
    server = None  # FerretDB, when the harness runs it
    server_pid: int | None = None
    if args.ferretdb:
        from tests.ferretdb import start_ferretdb

        server = start_ferretdb(store / "ferretdb")
        server_pid = server.process.pid
        broker_args += ["-dbURI", server.uri, "-db", f"bench{n}"]
    elif args.mongo_uri:
        broker_args += ["-dbURI", args.mongo_uri, "-db", f"bench{n}t{int(time.time())}"]
    # as installed (pip compiles the modules): bytecode cached, outside the repository, so that the
    # start-up measured is not the compilation a PYTHONDONTWRITEBYTECODE environment redoes each time
    env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(base / "pycache")}
    broker = BrokerProcess(store / "broker.db", args=broker_args, log_dir=store, env=env)
    prepared = args.prepared / f"n{n}" / "broker.db" if args.prepared and not server_uses_mongo(args) else None
    try:
        load_rate: float | None = None
        if prepared is not None and prepared.exists():
            print(f"copying the prepared store {prepared} ...", flush=True)
            shutil.copyfile(prepared, store / "broker.db")
            broker.start(timeout=120)  # compiles the bytecode, as the first start after installing
        else:
            broker.start(timeout=60)
            print(f"seeding {n} entities ...", flush=True)
            load_rate = asyncio.run(seed(broker.url, n))
        broker.stop()
        if prepared is not None and not prepared.exists():
            prepared.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store / "broker.db", prepared)  # stopped cleanly: the WAL is checkpointed
        startup = broker.start(timeout=120)
        db_mb = sum(f.stat().st_size for f in store.glob("broker.db*")) / 2**20
        sizes[str(n)] = {
            "seed_per_s": round(load_rate) if load_rate is not None else None,
            "startup_s": round(startup, 3),
            "db_mb": round(db_mb, 1),
            "rss_idle_mb": round(rss_mb(tree_pids(broker.proc.pid)), 1),
        }  # type: ignore[union-attr]
        seeded = f"seeded at {load_rate:.0f}/s" if load_rate is not None else "prepared"
        print(f"{seeded}; restart took {startup:.2f} s; store {db_mb:.0f} MB", flush=True)
        get_body, list_body = asyncio.run(capture_bodies(broker.url, store))
        if not args.no_ceiling:
            ceiling = Ceiling(args.workers, get_body, list_body)
        assert broker.proc is not None
        for scenario in args.scenarios:
            if scenario == "notify":
                receiver = Ceiling(1, get_body, list_body)
                asyncio.run(subscribe(broker.url, receiver.url))
            for c in args.connections:
                tag = f"n{n}c{c}t{int(time.time())}"
                load = os.getloadavg()[0]
                pids = tree_pids(broker.proc.pid)
                cpu0 = cpu_seconds(pids)
                server_cpu0 = cpu_seconds([server_pid]) if server_pid else 0.0
                got0 = asyncio.run(received(receiver.url)) if receiver and scenario == "notify" else 0
                s = wrk(broker.url, scenario, c, args.duration, n, tag)
                pids = tree_pids(broker.proc.pid)
                extra: dict[str, Any] = {}
                if scenario == "notify" and receiver is not None:
                    owed = s["requests"] * SUBSCRIPTIONS
                    deadline = time.monotonic() + args.drain
                    got = 0
                    while time.monotonic() < deadline:
                        got = asyncio.run(received(receiver.url)) - got0
                        if got >= owed:
                            break
                        time.sleep(0.2)
                    extra = {
                        "notifications_owed": owed,
                        "notifications_received": got,
                        "drain_s": round(args.drain - max(0.0, deadline - time.monotonic()), 1),
                    }
                cpu = cpu_seconds(pids) - cpu0
                if server_pid:
                    extra["server_cpu_ms_per_req"] = round(
                        (cpu_seconds([server_pid]) - server_cpu0) * 1000 / max(1, s["requests"]), 3
                    )
                    extra["server_rss_mb"] = round(rss_mb([server_pid]), 1)
                # requests wrk sent but stopped waiting for still run: the next measurement (the
                # ceiling's, the next scenario's) starts once the broker is quiet again
                extra["settle_s"] = settle(pids)
                requests = s["requests"]
                seconds = s["duration_us"] / 1e6
                run = Run(
                    scenario=scenario,
                    entities=n,
                    connections=c,
                    requests=requests,
                    seconds=round(seconds, 2),
                    rps=round(requests / seconds, 1),
                    p50_ms=s["p50_us"] / 1000,
                    p99_ms=s["p99_us"] / 1000,
                    p999_ms=s["p999_us"] / 1000,
                    max_ms=s["max_us"] / 1000,
                    errors=errors_of(s),
                    cpu_ms_per_req=round(cpu * 1000 / requests, 3) if requests else float("nan"),
                    rss_mb=round(rss_mb(pids), 1),
                    load_before=round(load, 2),
                    extra=extra | {"wrk": s},
                )
                if ceiling is not None:
                    cs = wrk(ceiling.url, scenario, c, args.duration, n, tag + "ceil")
                    run.ceiling_rps = round(cs["requests"] / (cs["duration_us"] / 1e6), 1)
                    run.ratio = round(run.rps / run.ceiling_rps, 3) if run.ceiling_rps else None
                    run.extra["ceiling_wrk"] = cs
                results.append(run)
                print(row(run), flush=True)
        sizes[str(n)]["rss_end_mb"] = round(rss_mb(tree_pids(broker.proc.pid)), 1)
    finally:
        for proc in (ceiling, receiver):
            if proc is not None:
                proc.stop()
        if broker.proc is not None and broker.proc.poll() is None:
            broker.stop()
        if server is not None:
            server.stop()
        if not args.keep_store:
            shutil.rmtree(store, ignore_errors=True)


HEADER = (
    f"{'scenario':<8} {'N':>8} {'conn':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
    f"{'errors':>6} {'cpu ms/req':>10} {'RSS MB':>7} {'ceil/s':>8} {'x ceil':>6}"
)


def row(r: Run) -> str:
    ceil = f"{r.ceiling_rps:8.0f} {r.ratio:6.2f}" if r.ceiling_rps else f"{'-':>8} {'-':>6}"
    line = (
        f"{r.scenario:<8} {r.entities:>8} {r.connections:>4} {r.rps:8.0f} {r.p50_ms:8.1f} {r.p99_ms:8.1f} "
        f"{r.p999_ms:9.1f} {r.errors:>6} {r.cpu_ms_per_req:10.2f} {r.rss_mb:7.0f} {ceil}"
    )
    if "server_rss_mb" in r.extra:
        line += f"  server {r.extra['server_cpu_ms_per_req']:.2f} cpu ms/req, RSS {r.extra['server_rss_mb']:.0f} MB"
    if "notifications_owed" in r.extra:
        line += f"  notif {r.extra['notifications_received']}/{r.extra['notifications_owed']} in {r.extra['drain_s']} s"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    parser.add_argument("--connections", type=ints, default=[16], help="comma-separated (default 16; full: 1,16,128)")
    parser.add_argument("--sizes", type=ints, default=[10000], help="entities seeded, comma-separated (default 10000)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=list(SCENARIOS))
    parser.add_argument("--workers", type=int, default=2, help="the broker's -workers (default 2)")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds notify waits for its notifications")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare-aiohttp runs")
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"stores and captured bodies (default {DEFAULT_DIR})"
    )
    parser.add_argument("--keep-store", action="store_true")
    parser.add_argument(
        "--prepared",
        type=Path,
        default=None,
        help="SQLite: keep each seeded store as DIR/nN/broker.db and start from a copy of it next time",
    )
    store_arg = parser.add_mutually_exclusive_group()
    store_arg.add_argument(
        "--ferretdb", action="store_true", help="MongoDB store: a FerretDB started here (tests/ferretdb.py)"
    )
    store_arg.add_argument("--mongo-uri", help="MongoDB store: this server (a fresh database per size)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default DIR/results.json)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk; `make bench` installs it)", file=sys.stderr)
        return 2
    args.dir.mkdir(parents=True, exist_ok=True)
    out = args.out or args.dir / "results.json"

    sync = fsync_rate(args.dir, 2.0)
    print(
        f"disk: {sync['per_s']:.0f} fdatasync/s on {args.dir} (p50 {sync['p50_ms']} ms, p99 {sync['p99_ms']} ms); "
        f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[Run] = []
    sizes: dict[str, Any] = {}
    print(HEADER, flush=True)
    for n in args.sizes:
        measure_size(args, n, args.dir, results, sizes)
    print()
    print(HEADER)
    for r in results:
        print(row(r))
    for n, info in sizes.items():
        print(
            f"N={n}: seeded {info['seed_per_s'] or '(prepared)'}/s, start-up {info['startup_s']} s, store {info['db_mb']} MB, "
            f"RSS idle {info['rss_idle_mb']} MB, at the end {info.get('rss_end_mb')} MB"
        )
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "aiohttp": aiohttp.__version__,
            "platform": platform.platform(),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0:1],
            "load_average_end": os.getloadavg(),
        },
        "fsync": sync,
        "settings": {
            "duration_s": args.duration,
            "workers": args.workers,
            "connections": args.connections,
            "store": "ferretdb" if args.ferretdb else "mongodb" if args.mongo_uri else "sqlite",
        },
        "sizes": sizes,
        "runs": [asdict(r) for r in results],
    }
    out.write_text(json.dumps(doc, indent=1))
    print(f"results: {out}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
