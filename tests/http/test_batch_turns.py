"""Overlapping `op/update` batches in one process: each is tried once freely; one that found an
entity changed since its read retries holding its entities' turns, so overlapping batches stop
failing each other's versioned writes."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from broker.http.services import SERVICES


async def _seed(client: TestClient, n: int) -> None:
    entities = [{"id": f"E{i}", "type": "T", "n": {"type": "Number", "value": 0}} for i in range(n)]
    r = await client.post("/v2/op/update", json={"actionType": "append", "entities": entities})
    assert r.status == 204


def _batch(start: int, size: int, value: int) -> dict:
    items = [{"id": f"E{i}", "type": "T", "n": {"type": "Number", "value": value}} for i in range(start, start + size)]
    return {"actionType": "update", "entities": items}


async def test_a_batch_that_met_a_concurrent_change_retries_holding_its_entities_turns(client: TestClient):
    await _seed(client, 5)
    services = client.app[SERVICES]
    storage = services.entities.storage
    real_write_batch = storage.write_batch
    held_during: list[set] = []

    async def first_one_conflicts(tenant, writes, outbox=()):
        held_during.append({key for key in services.entities.locks._locks})
        if len(held_during) == 1:
            return False  # as if another process had changed one of the entities since the read
        return await real_write_batch(tenant, writes, outbox)

    storage.write_batch = first_one_conflicts
    r = await client.post("/v2/op/update", json=_batch(0, 5, 7))
    assert r.status == 204
    assert held_during[0] == set()  # the first try takes no turn: batches that do not overlap run side by side
    assert held_during[1] == {("", f"E{i}") for i in range(5)}
    # and the retry was written
    r = await client.get("/v2/entities", params={"type": "T", "options": "keyValues", "attrs": "n"})
    assert {e["id"]: e["n"] for e in await r.json()} == {f"E{i}": 7 for i in range(5)}


async def test_overlapping_batches_all_succeed_and_each_entity_holds_one_of_their_values(client: TestClient):
    await _seed(client, 60)
    answers = await asyncio.gather(*(client.post("/v2/op/update", json=_batch(k * 5, 20, k + 1)) for k in range(8)))
    assert [a.status for a in answers] == [204] * 8
    r = await client.get("/v2/entities", params={"type": "T", "attrs": "n", "options": "keyValues", "limit": "100"})
    values = {e["id"]: e["n"] for e in await r.json()}
    assert values["E0"] == 1 and values["E54"] == 8  # each written by one batch only
    for i in range(55):
        assert values[f"E{i}"] in {k + 1 for k in range(8) if k * 5 <= i < k * 5 + 20}
