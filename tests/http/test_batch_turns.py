"""Overlapping `op/update` batches in one process take turns on their entities instead of racing:
each is written once, none fails its versioned write and starts over."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from broker.http.services import SERVICES


async def test_overlapping_batches_queue_for_their_entities_and_are_each_written_once(client: TestClient):
    entities = [{"id": f"E{i}", "type": "T", "n": {"type": "Number", "value": 0}} for i in range(30)]
    r = await client.post("/v2/op/update", json={"actionType": "append", "entities": entities})
    assert r.status == 204
    storage = client.app[SERVICES].entities.storage
    real_write_batch = storage.write_batch
    attempts: list[int] = []

    async def counted(tenant, writes, outbox=()):
        attempts.append(len(writes))
        await asyncio.sleep(0)  # the other batches run while this one is being written
        return await real_write_batch(tenant, writes, outbox)

    storage.write_batch = counted

    def batch(start: int, value: int) -> dict:
        items = [
            {"id": f"E{i}", "type": "T", "n": {"type": "Number", "value": value}} for i in range(start, start + 20)
        ]
        return {"actionType": "update", "entities": items}

    answers = await asyncio.gather(*(client.post("/v2/op/update", json=batch(k * 5, k + 1)) for k in range(3)))
    assert [a.status for a in answers] == [204, 204, 204]
    assert attempts == [20, 20, 20]  # no batch wrote twice
    r = await client.get("/v2/entities", params={"type": "T", "attrs": "n", "options": "keyValues", "limit": "100"})
    values = {e["id"]: e["n"] for e in await r.json()}
    assert values["E0"] == 1 and values["E29"] == 3  # each written by one batch only
    assert all(values[f"E{i}"] in (1, 2, 3) for i in range(30))
