"""Scenarios for `python -m broker -workers N`, shared by the SQLite and the MongoDB process tests.

Requests go through an aiohttp session that opens a new TCP connection for every request, so the
kernel's SO_REUSEPORT hashing spreads them over the processes; which process served a request is
read from the log (every line carries its `pid` with -workers).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from tests.process.broker_process import BrokerProcess
from tests.providers import Provider
from tests.receivers import Receiver

PROPAGATION_BOUND = 1.0  # documented: a subscription change reaches every process within 1 s


def values(sink: Receiver, entity: str) -> list[int]:
    """The `n` of each notification about `entity`, in the order they arrived."""
    return [b["data"][0]["n"]["value"] for b in sink.bodies if b["data"][0]["id"] == entity]


def log_lines(broker: BrokerProcess) -> list[dict[str, Any]]:
    out = []
    for line in broker.logs().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line being written right now
    return out


async def wait_listening(broker: BrokerProcess, processes: int, timeout: float = 60.0) -> list[int]:
    """The pids of the serving processes, once `processes` of them log "listening"."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [e["pid"] for e in log_lines(broker) if e["msg"] == "listening"]
        if len(pids) >= processes:
            return pids
        assert time.monotonic() < deadline, f"only {len(pids)} processes listening:\n{broker.logs()}"
        await asyncio.sleep(0.05)


async def wait_logged(broker: BrokerProcess, msg: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The log's lines once one of them says `msg` (processes start concurrently, in any order)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(broker)
        if any(e["msg"] == msg for e in lines):
            return lines
        assert time.monotonic() < deadline, f"nothing logged {msg!r}:\n{broker.logs()}"
        await asyncio.sleep(0.05)


def serving_pids(broker: BrokerProcess, method: str, path: str) -> set[int]:
    """Processes that served such a request (a single-process broker's lines carry no pid: its own)."""
    assert broker.proc is not None
    return {
        e.get("pid", broker.proc.pid)
        for e in log_lines(broker)
        if e["msg"] == "request" and e["method"] == method and e["path"] == path
    }


def new_connection_each_time() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def wait_until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def create_subscription(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    async with http.post(f"{url}/v2/subscriptions", json=body) as r:
        assert r.status == 201, await r.text()
        location = r.headers["Location"]
    assert location.startswith("/v2/subscriptions/")
    return location.rsplit("/", 1)[1]


async def patch_n(http: aiohttp.ClientSession, url: str, entity: str, n: int) -> None:
    async with http.patch(f"{url}/v2/entities/{entity}/attrs", json={"n": {"value": n}}) as r:
        assert r.status == 204, await r.text()
        assert await r.read() == b""


async def create_entity(http: aiohttp.ClientSession, url: str, entity: str) -> None:
    async with http.post(f"{url}/v2/entities", json={"id": entity, "type": "Gauge", "n": {"value": 0}}) as r:
        assert r.status == 201, await r.text()


async def every_update_notified_once(
    creator: BrokerProcess, updaters: list[BrokerProcess], sink: Receiver, *, duration: float = 2.5
) -> float:
    """Create a subscription through `creator`, then update for `duration` seconds through new
    connections to `updaters` in turn. Asserts: no notification twice, every update made later than
    PROPAGATION_BOUND after the creation notified, Orion's body and headers, several processes
    served. Returns the propagation delay measured: how long after the creation an update could
    still go unnotified (0 when none did)."""
    async with new_connection_each_time() as http:
        await create_entity(http, creator.url, "G1")
        sub_id = await create_subscription(
            http,
            creator.url,
            {
                "subject": {"entities": [{"id": "G1", "type": "Gauge"}]},
                "notification": {"http": {"url": sink.url}, "attrs": ["n"]},
            },
        )
        created = time.monotonic()
        sent: list[tuple[int, float]] = []
        n = 0
        while time.monotonic() - created < duration:
            n += 1
            await patch_n(http, updaters[n % len(updaters)].url, "G1", n)
            sent.append((n, time.monotonic() - created))
            await asyncio.sleep(0.01)
    owed = {i for i, t in sent if t > PROPAGATION_BOUND}
    await wait_until(lambda: owed <= set(values(sink, "G1")), timeout=20)
    await asyncio.sleep(1.0)  # a duplicate would arrive in this time
    got = values(sink, "G1")
    assert len(got) == len(set(got)), f"notified more than once: {sorted(i for i in got if got.count(i) > 1)}"
    assert owed <= set(got), f"updates not notified: {sorted(owed - set(got))}"
    assert set(got) <= {i for i, _ in sent}
    assert got == sorted(got)  # one subscription's notifications go out in order
    headers, body = sink.requests[-1].headers, sink.requests[-1].json()
    assert body == {
        "subscriptionId": sub_id,
        "data": [{"id": "G1", "type": "Gauge", "n": {"type": "Number", "value": got[-1], "metadata": {}}}],
    }
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"].startswith("orion/")
    assert headers["Ngsiv2-AttrsFormat"] == "normalized"
    assert headers["Fiware-Correlator"].endswith("; cbnotif=1")
    pids = set().union(*(serving_pids(b, "PATCH", "/v2/entities/G1/attrs") for b in updaters))
    assert len(pids) >= 2, f"one process served every update: {pids}"
    missed = [t for i, t in sent if i not in set(got)]
    return max(missed, default=0.0)


THROTTLING = 6  # seconds


async def throttling_holds_across_processes(
    broker: BrokerProcess, sink: Receiver, others: Sequence[BrokerProcess] = ()
) -> None:
    """A throttling window (6 s: long enough for the updates on a loaded machine) lets one
    notification through whichever process serves the updates, and the next window opens after it."""
    brokers = [broker, *others]
    async with new_connection_each_time() as http:
        await create_entity(http, broker.url, "T1")
        await create_subscription(
            http,
            broker.url,
            {
                "subject": {"entities": [{"id": "T1", "type": "Gauge"}]},
                "notification": {"http": {"url": sink.url}, "attrs": ["n"]},
                "throttling": THROTTLING,
            },
        )
        await asyncio.sleep(PROPAGATION_BOUND + 0.2)
        first = time.monotonic()
        for n in range(1, 21):
            await patch_n(http, brokers[n % len(brokers)].url, "T1", n)
            await asyncio.sleep(0.02)
        took = time.monotonic() - first
        assert took < THROTTLING - 0.5, (
            f"the updates took {took:.1f} s, longer than the window: the test proves nothing"
        )
        pids = set().union(*(serving_pids(b, "PATCH", "/v2/entities/T1/attrs") for b in brokers))
        assert len(pids) >= 2, f"one process served every update: {pids}"
        await wait_until(lambda: len(values(sink, "T1")) >= 1, timeout=10)
        await asyncio.sleep(max(0.0, first + THROTTLING + 0.2 - time.monotonic()))
        assert values(sink, "T1") == [1]
        await patch_n(http, broker.url, "T1", 100)
        await wait_until(lambda: len(values(sink, "T1")) >= 2, timeout=10)
        await asyncio.sleep(0.5)
        assert values(sink, "T1") == [1, 100]


def supervised_pids(broker: BrokerProcess) -> list[int]:
    """The supervisor's children, as it logged them at start."""
    return next(e["pids"] for e in log_lines(broker) if e["msg"] == "supervising")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def subscription_changes_reach_every_process(broker: BrokerProcess, sink: Receiver) -> None:
    """Creation, PATCH (status inactive, then active) and DELETE through one connection are seen,
    after the bound, by every process: GETs and notifications through new connections agree."""
    url = broker.url

    async def statuses(http: aiohttp.ClientSession, sub_id: str) -> set[tuple[int, str | None]]:
        seen = set()
        for _ in range(12):
            async with http.get(f"{url}/v2/subscriptions/{sub_id}") as r:
                body = await r.json() if r.status == 200 else None
                seen.add((r.status, body["status"] if body else None))
        return seen

    async with new_connection_each_time() as http:
        await create_entity(http, url, "S1")
        sub_id = await create_subscription(
            http,
            url,
            {
                "subject": {"entities": [{"id": "S1", "type": "Gauge"}]},
                "notification": {"http": {"url": sink.url}, "attrs": ["n"]},
            },
        )
        await asyncio.sleep(PROPAGATION_BOUND)
        assert await statuses(http, sub_id) == {(200, "active")}
        async with http.patch(f"{url}/v2/subscriptions/{sub_id}", json={"status": "inactive"}) as r:
            assert r.status == 204
        await asyncio.sleep(PROPAGATION_BOUND)
        assert await statuses(http, sub_id) == {(200, "inactive")}
        for n in range(1, 7):
            await patch_n(http, url, "S1", n)
        async with http.patch(f"{url}/v2/subscriptions/{sub_id}", json={"status": "active"}) as r:
            assert r.status == 204
        await asyncio.sleep(PROPAGATION_BOUND)
        for n in range(7, 13):
            await patch_n(http, url, "S1", n)
        await wait_until(lambda: len(values(sink, "S1")) >= 6, timeout=10)
        async with http.delete(f"{url}/v2/subscriptions/{sub_id}") as r:
            assert r.status == 204
        await asyncio.sleep(PROPAGATION_BOUND)
        assert await statuses(http, sub_id) == {(404, None)}
        for n in range(13, 19):
            await patch_n(http, url, "S1", n)
        await asyncio.sleep(1.0)
    assert values(sink, "S1") == list(range(7, 13))
    assert len(serving_pids(broker, "GET", f"/v2/subscriptions/{sub_id}")) >= 2


async def registrations_reach_every_process(broker: BrokerProcess, provider: Provider) -> None:
    """Registrations changed through one process are used by the others within the bound (each
    keeps them 0.5 s): reads through new connections, spread over the processes, all agree."""
    provider.add("Lamp1", "Lamp", luminosity={"type": "Number", "value": 9})
    body = {
        "dataProvided": {"entities": [{"id": "Lamp1", "type": "Lamp"}], "attrs": ["luminosity"]},
        "provider": {"http": {"url": provider.url()}},
    }

    async def statuses(http: aiohttp.ClientSession) -> set[int]:
        seen = set()
        for _ in range(12):
            async with http.get(f"{broker.url}/v2/entities/Lamp1?type=Lamp") as r:
                seen.add(r.status)
        return seen

    async with new_connection_each_time() as http:
        assert await statuses(http) == {404}  # every process has read the tenant's (no) registrations
        async with http.post(f"{broker.url}/v2/registrations", json=body) as r:
            assert r.status == 201
            location = r.headers["Location"]
        await asyncio.sleep(PROPAGATION_BOUND)
        assert await statuses(http) == {200}
        async with http.delete(f"{broker.url}{location}") as r:
            assert r.status == 204
        await asyncio.sleep(PROPAGATION_BOUND)
        assert await statuses(http) == {404}
    assert len(serving_pids(broker, "GET", "/v2/entities/Lamp1?type=Lamp")) >= 2, "one process served all"
