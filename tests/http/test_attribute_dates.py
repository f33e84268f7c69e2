"""Attribute `dateModified` moves only when the attribute changed (Orion's "actual update");
the entity's moves on every update."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from broker.http.services import SERVICES

ATTR_DATES = {"attrs": "dateModified,*", "metadata": "dateModified"}
T0 = "2030-01-01T00:00:00.000Z"


async def _dates(client: TestClient) -> tuple[str, str]:
    r = await client.get("/v2/entities/R1", params=ATTR_DATES)
    assert r.status == 200
    body = await r.json()
    return body["dateModified"]["value"], body["temp"]["metadata"]["dateModified"]["value"]


async def test_same_value_writes_keep_the_attribute_date_and_move_the_entity_date(client: TestClient) -> None:
    now = [1893456000.0]  # T0
    client.app[SERVICES].entities.clock = lambda: now[0]
    r = await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"type": "Number", "value": 20.0}})
    assert r.status == 201
    assert await _dates(client) == (T0, T0)
    writes = [
        (
            "2030-01-01T00:00:01.000Z",
            "PUT",
            "/v2/entities/R1/attrs/temp/value",
            {"data": "20", "headers": {"Content-Type": "text/plain"}},
        ),
        (
            "2030-01-01T00:00:02.000Z",
            "PATCH",
            "/v2/entities/R1/attrs",
            {"json": {"temp": {"type": "Number", "value": 20}}},
        ),
        (
            "2030-01-01T00:00:03.000Z",
            "POST",
            "/v2/op/update",
            {"json": {"actionType": "update", "entities": [{"id": "R1", "type": "Room", "temp": {"value": 20}}]}},
        ),
    ]
    for at, method, path, kw in writes:
        now[0] += 1
        r = await client.request(method, path, **kw)
        assert r.status == 204, await r.text()
        assert await _dates(client) == (at, T0)
    now[0] += 1
    r = await client.patch("/v2/entities/R1/attrs", params={"options": "forcedUpdate"}, json={"temp": {"value": 20}})
    assert r.status == 204
    assert await _dates(client) == ("2030-01-01T00:00:04.000Z", "2030-01-01T00:00:04.000Z")
    now[0] += 1
    r = await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 21}})
    assert r.status == 204
    assert await _dates(client) == ("2030-01-01T00:00:05.000Z", "2030-01-01T00:00:05.000Z")
