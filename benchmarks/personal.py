"""Consent-filtered reads of a real broker process, against the same reads of an open type.

    python -m benchmarks.personal [--subjects 10000] [--entities 100000] [--consents 50000]
                                  [--services 100] [--clients 4] [--requests 300] [--rounds 10]
                                  [--phases list,query,get] [--prepared DIR] [--out FILE]

Starts `python -m broker -authSecret ...` on a temporary store and loads, with `POST /v2/op/update`,
`--entities` `HealthRecord` entities (10 per subject by default, attributes `refResident`, `steps`,
`heartRate`, `district`) and the same number of `Activity` entities with identical attributes.
Then an operator declares `HealthRecord` personal (it applies to the entities already there), and
residents grant `--consents` consents over the API, each to one of `--services` services, for
`steps` and `district` (every fifth one for every attribute).

Phases, run by a service on `HealthRecord` and by the same service on `Activity` (the baseline: an
equal type that is not personal, so Orion's path):

  list   GET /v2/entities?type=T&limit=20
  query  GET /v2/entities?type=T&q=steps>9000&limit=20&options=count
  get    GET /v2/entities/{id}?type=T              (ids the service may see)

After a short warm-up of each type (not reported: the first requests after start are slower),
each phase alternates `--rounds` times between the two types (`--requests / --rounds` requests
per run; which type goes first alternates too), so that a slower or faster spell of a shared
machine hits both. Reported: requests/s of each type over all its runs, p50/p99 latency, and the ratio
personal/open of each round with their median (target >= 0.8); then whether the access log
verifies, with the number of records the personal phases appended. Last, withdrawal: a resident's consent is
withdrawn and the service reads the entity right after the 204; it must be denied on that very
next request. Repeated `--withdrawals` times; the number of reads before the first denial and the
time from the withdrawal's answer to the denied read are reported.

Loading and granting take about 80 s at full size on 2 cores, and the `query` phase, with its
count over 100,000 entities, most of the rest (about 150 ms a request). With `--prepared DIR` the
store as it stands after granting is kept in DIR and the next run of the same sizes starts from a
copy of it; `--phases list,get` leaves the slow phase out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt

from benchmarks.stats import percentile
from tests.process.broker_process import BrokerProcess

SECRET = "benchmark-secret-of-at-least-32-bytes!"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "area-broker-bench" / "personal.json"
TIMEOUT = aiohttp.ClientTimeout(total=600)
PHASES = ("list", "query", "get")
TYPES = ("Activity", "HealthRecord")  # the open baseline, the personal type


def bearer(sub: str, role: str) -> dict[str, str]:
    claims = {"sub": sub, "roles": [role], "exp": int(time.time()) + 86400}
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


@dataclass
class Phase:
    name: str
    type: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    round: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def record(subject: int, n: int, type_: str, rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"{type_}-{subject}-{n}",
        "type": type_,
        "refResident": {"type": "Text", "value": f"resident-{subject}"},
        "steps": {"type": "Number", "value": rng.randint(0, 10000)},
        "heartRate": {"type": "Number", "value": rng.randint(50, 150)},
        "district": {"type": "Text", "value": f"district-{subject % 20}"},
    }


async def load(session: aiohttp.ClientSession, url: str, entities: list[dict[str, Any]], batch: int = 1000) -> None:
    sem = asyncio.Semaphore(4)

    async def one(chunk: list[dict[str, Any]]) -> None:
        async with sem:
            async with session.post(f"{url}/v2/op/update", json={"actionType": "append", "entities": chunk}) as r:
                assert r.status == 204, await r.text()

    await asyncio.gather(*(one(entities[i : i + batch]) for i in range(0, len(entities), batch)))


async def grant_all(
    session: aiohttp.ClientSession, url: str, grants: list[tuple[int, int, bool]]
) -> dict[tuple[int, int], str]:
    """(subject, service, all attributes) -> consent id, over the API, 16 requests in flight."""
    sem = asyncio.Semaphore(16)
    ids: dict[tuple[int, int], str] = {}
    tokens: dict[int, dict[str, str]] = {}

    async def one(subject: int, service: int, wide: bool) -> None:
        body: dict[str, Any] = {"recipient": f"svc-{service}", "entityTypes": ["HealthRecord"], "purpose": "benchmark"}
        if not wide:
            body["attrs"] = ["steps", "district"]
        headers = tokens.setdefault(subject, bearer(f"resident-{subject}", "resident"))
        async with sem:
            async with session.post(f"{url}/personal/v1/consents", json=body, headers=headers) as r:
                assert r.status == 201, await r.text()
                ids[(subject, service)] = r.headers["Location"].rsplit("/", 1)[1]

    await asyncio.gather(*(one(*g) for g in grants))
    return ids


async def measure(
    session: aiohttp.ClientSession, name: str, type_: str, urls: list[str], headers: dict[str, str], clients: int
) -> Phase:
    latencies: list[float] = []
    errors = 0
    queue = list(urls)

    async def client() -> None:
        nonlocal errors
        while queue:
            u = queue.pop()
            t0 = time.perf_counter()
            async with session.get(u, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Phase(
        name, type_, len(latencies), elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, errors
    )


def prepared_paths(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """Where a loaded and granted store of these sizes is kept between runs (`--prepared DIR`)."""
    if args.prepared is None:
        return None
    name = f"s{args.subjects}-e{args.entities}-c{args.consents}-v{args.services}"
    return args.prepared / f"{name}.db", args.prepared / f"{name}.json"


def copy_store(src: Path, dst: Path) -> None:
    """The SQLite file and its WAL, if one was left."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


async def prepare(
    session: aiohttp.ClientSession, url: str, args: argparse.Namespace, per_subject: int
) -> dict[str, Any]:
    """Load both types, declare `HealthRecord` personal and grant the consents over the API."""
    rng = random.Random(7)
    t0 = time.perf_counter()
    for type_ in ("HealthRecord", "Activity"):
        entities = [record(s, n, type_, rng) for s in range(args.subjects) for n in range(per_subject)]
        await load(session, url, entities)
    load_s = time.perf_counter() - t0
    async with session.put(
        f"{url}/personal/v1/types/HealthRecord",
        json={"subjectAttr": "refResident"},
        headers=bearer("admin", "operator"),
    ) as r:
        assert r.status == 204
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < args.consents:
        pairs.add((rng.randrange(args.subjects), rng.randrange(args.services)))
    grants = [(s, v, i % 5 == 0) for i, (s, v) in enumerate(sorted(pairs))]
    t0 = time.perf_counter()
    consent_ids = await grant_all(session, url, grants)
    grant_s = time.perf_counter() - t0
    return {
        "load_seconds": load_s,
        "grant_seconds": grant_s,
        "consents": [[s, v, cid] for (s, v), cid in sorted(consent_ids.items())],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    per_subject = max(1, args.entities // args.subjects)
    kept = prepared_paths(args)
    with tempfile.TemporaryDirectory(prefix="area-broker-personal-") as tmp:
        db = Path(tmp) / "broker.db"
        reused = kept is not None and kept[0].exists() and kept[1].exists()
        if reused:
            assert kept is not None
            copy_store(kept[0], db)
            setup = json.loads(kept[1].read_text())
        broker = BrokerProcess(db, args=["-logLevel", "WARN", "-authSecret", SECRET])
        broker.start(timeout=60.0)
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=64)) as session:
                url = broker.url
                if not reused:
                    setup = await prepare(session, url, args, per_subject)
                    if kept is not None:  # stop (the WAL is checkpointed on close), keep a copy, go on
                        broker.stop()
                        copy_store(db, kept[0])
                        kept[1].write_text(json.dumps(setup))
                        broker.start(timeout=60.0)
                load_s, grant_s = setup["load_seconds"], setup["grant_seconds"]
                consent_ids = {(s, v): cid for s, v, cid in setup["consents"]}
                pairs = set(consent_ids)
                rng = random.Random(8)

                service = 0
                svc = bearer(f"svc-{service}", "service")
                mine = sorted(s for (s, v) in pairs if v == service)
                phases: list[Phase] = []
                per_round = max(1, args.requests // args.rounds)
                for name in args.phases:
                    for type_ in TYPES:  # warm-up, not reported: the first requests after start are slower
                        warm = f"{url}/v2/entities?type={type_}&limit=20"
                        await measure(session, name, type_, [warm] * min(per_round, 200), svc, args.clients)
                    for rnd in range(args.rounds):  # open and personal alternate, so drifts of the machine hit both
                        for type_ in TYPES if rnd % 2 == 0 else TYPES[::-1]:
                            base = f"{url}/v2/entities?type={type_}"
                            urls = {
                                "list": [base + "&limit=20"] * per_round,
                                "query": [base + "&q=steps>9000&limit=20&options=count"] * per_round,
                                "get": [
                                    f"{url}/v2/entities/{type_}-{rng.choice(mine)}-{rng.randrange(per_subject)}?type={type_}"
                                    for _ in range(per_round)
                                ],
                            }
                            phase = await measure(session, name, type_, urls[name], svc, args.clients)
                            phase.round = rnd
                            phases.append(phase)

                async with session.get(
                    f"{url}/personal/v1/access-log/verify", headers=bearer("admin", "operator")
                ) as r:
                    verdict = await r.json()

                withdrawals = []
                for _ in range(args.withdrawals):
                    subject = mine.pop(rng.randrange(len(mine)))
                    entity = f"{url}/v2/entities/HealthRecord-{subject}-0?type=HealthRecord"
                    async with session.get(entity, headers=svc) as r:
                        assert r.status == 200, await r.text()
                    async with session.delete(
                        f"{url}/personal/v1/consents/{consent_ids[(subject, service)]}",
                        headers=bearer(f"resident-{subject}", "resident"),
                    ) as r:
                        assert r.status == 204
                        answered = time.perf_counter()
                    reads = 0
                    while True:
                        reads += 1
                        async with session.get(entity, headers=svc) as r:
                            status = r.status
                        if status == 404 or reads >= 100:
                            break
                    withdrawals.append(
                        {
                            "reads_until_denied": reads,
                            "ms": (time.perf_counter() - answered) * 1000,
                            "denied": status == 404,
                        }
                    )
        finally:
            broker.stop()
    return {
        "subjects": args.subjects,
        "entities_per_type": args.subjects * per_subject,
        "consents": args.consents,
        "services": args.services,
        "visible_subjects_of_svc0": len(mine) + args.withdrawals,
        "prepared_store_reused": reused,
        "phase_names": list(args.phases),
        "load_seconds": load_s,
        "grant_seconds": grant_s,
        "rounds": args.rounds,
        "phases": [{**asdict(p), "rps": p.rps} for p in phases],
        "summary": summarise(phases, args.phases),
        "access_log": verdict,
        "withdrawals": withdrawals,
    }


def summarise(phases: list[Phase], names: list[str]) -> dict[str, Any]:
    """Per phase: requests/s of each type over all its rounds, and the personal/open ratio of each
    round (a round is one open and one personal run back to back) with their median."""
    out: dict[str, Any] = {}
    for name in names:
        runs = {t: [p for p in phases if p.name == name and p.type == t] for t in TYPES}
        ratios = sorted(
            pers.rps / open_.rps for open_, pers in zip(runs["Activity"], runs["HealthRecord"]) if open_.rps
        )
        out[name] = {
            **{
                t: {
                    "rps": sum(p.requests for p in ps) / sum(p.seconds for p in ps),
                    "p50_ms": statistics.median(p.p50_ms for p in ps),
                    "p99_ms": max(p.p99_ms for p in ps),
                    "errors": sum(p.errors for p in ps),
                }
                for t, ps in runs.items()
            },
            "ratios": ratios,
            "ratio_median": statistics.median(ratios) if ratios else float("nan"),
        }
    return out


def report(result: dict[str, Any]) -> None:
    print(
        f"{result['subjects']} subjects, {result['entities_per_type']} entities per type, {result['consents']} consents "
        f"over {result['services']} services; load {result['load_seconds']:.0f} s, grants {result['grant_seconds']:.0f} s; "
        f"{result['rounds']} rounds per phase"
    )
    print(
        f"{'phase':8} {'type':13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}   ratio personal/open: median (min-max)"
    )
    for name, s in result["summary"].items():
        for t in TYPES:
            x = s[t]
            tail = ""
            if t == "HealthRecord" and s["ratios"]:
                tail = f"   {s['ratio_median']:.2f} ({s['ratios'][0]:.2f}-{s['ratios'][-1]:.2f})"
            print(f"{name:8} {t:13} {x['rps']:8.0f} {x['p50_ms']:8.1f} {x['p99_ms']:8.1f} {x['errors']:6d}{tail}")
    w = result["withdrawals"]
    print(
        f"withdrawal: {sum(x['denied'] for x in w)}/{len(w)} denied; reads until denied max "
        f"{max(x['reads_until_denied'] for x in w)}; ms from the 204 to the denied read p50 "
        f"{percentile([x['ms'] for x in w], 50):.1f}, max {max(x['ms'] for x in w):.1f}"
    )
    print(f"access log: {result['access_log']}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.personal")
    parser.add_argument("--subjects", type=int, default=10000)
    parser.add_argument("--entities", type=int, default=100000)
    parser.add_argument("--consents", type=int, default=50000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="each phase alternates open and personal this many times, --requests/rounds requests each",
    )
    parser.add_argument(
        "--phases",
        type=lambda v: v.split(","),
        default=list(PHASES),
        help="which of list,query,get to run (query with its count is the slow one)",
    )
    parser.add_argument("--withdrawals", type=int, default=20)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--prepared",
        type=Path,
        default=None,
        help="keep the loaded and granted store here and reuse it on the next run of the same sizes",
    )
    args = parser.parse_args()
    if not args.phases or not set(args.phases) <= set(PHASES):
        parser.error(f"--phases: a comma-separated subset of {','.join(PHASES)}")
    result = asyncio.run(run(args))
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    errors = sum(p["errors"] for p in result["phases"])
    denied = all(x["denied"] and x["reads_until_denied"] == 1 for x in result["withdrawals"])
    raise SystemExit(0 if errors == 0 and denied and result["access_log"]["valid"] else 1)


if __name__ == "__main__":
    main()
