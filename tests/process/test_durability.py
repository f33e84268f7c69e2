"""Crash durability: every write the broker acknowledged survives a SIGKILL and a restart on the same store.

SIGKILL loses the process, not the operating system's page cache, so this proves that an acknowledgement
is sent only after the write reached SQLite's WAL, not that the WAL reached the platter.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.process.broker_process import BrokerProcess

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

CLIENTS = 50
FIRST_WAVE = 1000
SECOND_WAVE = 2000  # more than can finish before the kill
KILL_AFTER_ACKS = 300  # acknowledged writes of the second wave before SIGKILL


def make_entity(wave: int, i: int) -> dict[str, Any]:
    """A distinct entity whose every attribute type and value can be checked exactly after restart."""
    return {
        "id": f"urn:ngsi-ld:Sensor:w{wave}-{i:05d}",
        "type": "Sensor",
        "temperature": {"type": "Number", "value": i + 0.25, "metadata": {"unit": {"type": "Text", "value": "CEL"}}},
        "count": {"type": "Integer", "value": wave * 100000 + i},
        "name": {"type": "Text", "value": f"sensor {wave}/{i}"},
        "on": {"type": "Boolean", "value": i % 2 == 0},
        "config": {"type": "StructuredValue", "value": {"wave": wave, "tags": ["a", str(i)], "nested": {"x": None}}},
    }


def expected_rendering(entity: dict[str, Any]) -> dict[str, Any]:
    """The normalized GET rendering of `entity`: every attribute carries `metadata`, `{}` when none was sent."""
    out: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    for name, attr in entity.items():
        if name in ("id", "type"):
            continue
        out[name] = {"type": attr["type"], "value": attr["value"], "metadata": attr.get("metadata", {})}
    return out


class Wave:
    """Writers sharing one queue of entities; records which were acknowledged and which were in flight."""

    def __init__(self, url: str, entities: list[dict[str, Any]]) -> None:
        self.url = url
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for e in entities:
            self.queue.put_nowait(e)
        self.acked: dict[str, dict[str, Any]] = {}
        self.in_flight: set[str] = set()
        self.in_flight_at_kill: set[str] = set()
        self.failures: list[tuple[str, int]] = []
        self.errors = 0
        self.stopped = asyncio.Event()

    async def writer(self) -> None:
        connector = aiohttp.TCPConnector(limit=1, force_close=False)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=20)) as session:
            while not self.stopped.is_set():
                try:
                    entity = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                self.in_flight.add(entity["id"])
                try:
                    async with session.post(self.url + "/v2/entities", json=entity) as resp:
                        await resp.read()
                        if resp.status == 201:
                            self.acked[entity["id"]] = entity
                        else:
                            self.failures.append((entity["id"], resp.status))
                except (TimeoutError, aiohttp.ClientError):
                    self.errors += 1
                    if self.stopped.is_set():
                        return
                finally:
                    self.in_flight.discard(entity["id"])

    async def run(self, kill_after: int | None = None, kill: Any = None) -> None:
        writers = [asyncio.create_task(self.writer()) for _ in range(CLIENTS)]
        if kill_after is not None:
            while len(self.acked) < kill_after and not all(w.done() for w in writers):
                await asyncio.sleep(0.001)
            self.in_flight_at_kill = set(self.in_flight)
            kill()
            self.stopped.set()
        await asyncio.gather(*writers)


async def read_everything(url: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """All entities by listing pages of 1000 (`options=count`), and the reported total."""
    found: dict[str, dict[str, Any]] = {}
    total = -1
    async with aiohttp.ClientSession() as session:
        offset = 0
        while True:
            async with session.get(
                url + "/v2/entities", params={"limit": "1000", "offset": str(offset), "options": "count"}
            ) as resp:
                assert resp.status == 200, await resp.text()
                total = int(resp.headers["Fiware-Total-Count"])
                page = await resp.json()
            for e in page:
                assert e["id"] not in found, f"{e['id']} listed twice"
                found[e["id"]] = e
            offset += len(page)
            if not page or offset >= total:
                break
    return total, found


async def get_each(url: str, ids: list[str]) -> dict[str, tuple[int, Any]]:
    """GET /v2/entities/{id}?type=Sensor for every id, 50 at a time."""
    results: dict[str, tuple[int, Any]] = {}
    sem = asyncio.Semaphore(CLIENTS)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:

        async def one(entity_id: str) -> None:
            async with sem, session.get(f"{url}/v2/entities/{entity_id}", params={"type": "Sensor"}) as resp:
                body = await resp.json() if resp.status == 200 else await resp.text()
                results[entity_id] = (resp.status, body)

        await asyncio.gather(*(one(i) for i in ids))
    return results


async def test_every_acknowledged_create_survives_sigkill_and_restart(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "store" / "broker.db", args=["-logLevel", "WARN"])
    try:
        startup = broker.start()
        first = Wave(broker.url, [make_entity(1, i) for i in range(FIRST_WAVE)])
        t0 = time.perf_counter()
        await first.run()
        elapsed = time.perf_counter() - t0
        print(
            f"\nwave 1: {len(first.acked)}/{FIRST_WAVE} acknowledged by {CLIENTS} clients in {elapsed:.2f} s "
            f"({len(first.acked) / elapsed:.0f} writes/s), broker up in {startup:.2f} s"
        )
        assert first.failures == [] and first.errors == 0
        assert len(first.acked) == FIRST_WAVE

        second = Wave(broker.url, [make_entity(2, i) for i in range(SECOND_WAVE)])
        assert broker.proc is not None
        pid = broker.proc.pid
        t0 = time.perf_counter()
        await second.run(kill_after=KILL_AFTER_ACKS, kill=lambda: os.kill(pid, signal.SIGKILL))
        elapsed = time.perf_counter() - t0
        assert broker.proc.wait(10) == -signal.SIGKILL
        print(
            f"wave 2: {len(second.acked)} acknowledged in {elapsed:.2f} s before SIGKILL "
            f"({len(second.acked) / elapsed:.0f} writes/s), {len(second.in_flight_at_kill)} in flight at the kill, "
            f"{second.errors} client errors"
        )
        assert second.failures == []
        assert len(second.acked) >= KILL_AFTER_ACKS
        assert second.in_flight_at_kill, "the kill must land while writes are in flight"
        assert len(second.acked) < SECOND_WAVE, "the second wave must be cut short by the kill"

        startup = broker.start()
        print(f"restart on the same store: serving in {startup:.2f} s")
        acked = {**first.acked, **second.acked}
        attempted = {e["id"]: e for e in (make_entity(1, i) for i in range(FIRST_WAVE))}
        attempted.update({e["id"]: e for e in (make_entity(2, i) for i in range(SECOND_WAVE))})

        total, stored = await read_everything(broker.url)
        missing = sorted(set(acked) - set(stored))
        assert missing == [], f"{len(missing)} acknowledged entities lost, e.g. {missing[:5]}"
        assert total == len(stored)
        # writes in flight at the kill may or may not have landed; nothing else may have
        unacknowledged = set(stored) - set(acked)
        assert unacknowledged <= second.in_flight_at_kill, sorted(unacknowledged - second.in_flight_at_kill)[:5]
        for entity_id, entity in stored.items():  # whatever landed landed whole
            assert entity == expected_rendering(attempted[entity_id]), entity_id
        print(
            f"after restart: {total} entities stored, {len(acked)} acknowledged, "
            f"{total - len(acked)} unacknowledged in-flight writes landed"
        )

        each = await get_each(broker.url, sorted(acked))
        wrong = {i: r for i, r in each.items() if r != (200, expected_rendering(acked[i]))}
        assert wrong == {}, f"{len(wrong)} entities differ, e.g. {next(iter(wrong.items()))}"
    finally:
        broker.kill()


async def test_writes_acknowledged_before_sigterm_are_served_after_restart(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "broker.db", args=["-logLevel", "WARN"])
    try:
        broker.start()
        wave = Wave(broker.url, [make_entity(3, i) for i in range(100)])
        await wave.run()
        assert len(wave.acked) == 100
        broker.stop(signal.SIGTERM)
        broker.start()
        total, stored = await read_everything(broker.url)
        assert total == 100
        assert stored == {i: expected_rendering(e) for i, e in wave.acked.items()}
    finally:
        broker.kill()
