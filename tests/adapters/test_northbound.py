"""Northbound queue without a network: batching, per-entity order, retry of transient failures, isolation of refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from adapters.iot.northbound import Northbound
from adapters.ngsi_client import BrokerError, Destination

DEST = Destination("http://cb", "t", "/p")


class FakeClient:
    """Records each op/update; fails the first `down` calls as unreachable and refuses entities named 'bad'."""

    def __init__(self, down: int = 0) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.down = down
        self.release = asyncio.Event()
        self.release.set()

    async def batch_update(self, dest: Destination, entities: list[dict[str, Any]], action: str = "append") -> None:
        await self.release.wait()
        if self.down > 0:
            self.down -= 1
            raise aiohttp.ClientConnectionError("connection refused")
        if any(e["id"] == "bad" for e in entities):
            raise BrokerError(400, '{"error":"BadRequest","description":"Invalid characters in attribute value"}')
        self.calls.append(entities)


def update(entity_id: str, n: int) -> dict[str, Any]:
    return {"id": entity_id, "type": "T", "n": {"type": "Number", "value": n}}


async def test_updates_queued_while_a_request_is_in_flight_leave_together_in_order():
    client = FakeClient()
    nb = Northbound(client, workers=1, linger=0)  # type: ignore[arg-type]
    nb.start()
    client.release.clear()
    first = await nb.submit(DEST, update("a", 0), "dev-a")
    await asyncio.sleep(0)  # the worker takes the first update and waits on the broker
    rest = [await nb.submit(DEST, update("a", n), "dev-a") for n in range(1, 50)]
    client.release.set()
    await asyncio.gather(first, *rest)
    assert [len(c) for c in client.calls] == [1, 49]
    assert [e["n"]["value"] for c in client.calls for e in c] == list(range(50))
    await nb.close()


async def test_an_unreachable_broker_is_retried_until_it_answers():
    client = FakeClient(down=3)
    nb = Northbound(client, workers=1, max_backoff=0.01)  # type: ignore[arg-type]
    nb.start()
    await asyncio.wait_for(await nb.submit(DEST, update("a", 1), "dev-a"), 5)
    assert nb.stats.retries == 3 and nb.stats.sent_updates == 1
    await nb.close()


async def test_a_refused_update_fails_alone_and_its_batch_neighbours_are_written():
    client = FakeClient()
    nb = Northbound(client, workers=1, linger=0.05)  # type: ignore[arg-type]
    nb.start()
    futures = [await nb.submit(DEST, update(i, 1), i) for i in ("a", "bad", "c")]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], BrokerError) and results[1].status == 400
    assert sorted(e["id"] for c in client.calls for e in c) == ["a", "c"]
    assert nb.stats.rejected == 1
    await nb.close()


@pytest.mark.parametrize("workers", [1, 4])
async def test_each_entity_keeps_its_order_across_workers(workers: int):
    client = FakeClient()
    nb = Northbound(client, workers=workers, batch_max=7)  # type: ignore[arg-type]
    nb.start()
    futures = [await nb.submit(DEST, update(f"e{n % 5}", n), "d") for n in range(100)]
    await asyncio.gather(*futures)
    seen: dict[str, list[int]] = {}
    for call in client.calls:
        for e in call:
            seen.setdefault(e["id"], []).append(e["n"]["value"])
    assert all(values == sorted(values) for values in seen.values()) and sum(map(len, seen.values())) == 100
    await nb.close()
