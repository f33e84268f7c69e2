"""GET /v2/types and /v2/types/{type}."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient


async def seed(client: TestClient, *entities: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    for e in entities:
        r = await client.post("/v2/entities", json=e, headers=headers)
        assert r.status == 201, await r.text()


async def fleet(client: TestClient) -> None:
    await seed(
        client,
        {"id": "C1", "type": "Car", "speed": {"value": 1}, "plate": {"value": "x"}},
        {"id": "C2", "type": "Car", "speed": {"value": "fast"}},
        {"id": "R1", "type": "Room", "temp": {"value": 1.5}},
        {"id": "A1", "type": "Apple"},
    )


async def test_list_types_sorted_with_attrs_and_counts(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert "Fiware-Total-Count" not in r.headers
    assert await r.json() == [
        {"type": "Apple", "attrs": {}, "count": 1},
        {
            "type": "Car",
            "attrs": {"plate": {"types": ["Text"]}, "speed": {"types": ["Number", "Text"]}},
            "count": 2,
        },
        {"type": "Room", "attrs": {"temp": {"types": ["Number"]}}, "count": 1},
    ]


async def test_list_types_empty(client: TestClient) -> None:
    r = await client.get("/v2/types", params={"options": "count"})
    assert r.status == 200
    assert await r.read() == b"[]"
    assert r.headers["Fiware-Total-Count"] == "0"


async def test_list_types_values_option(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types", params={"options": "values"})
    assert await r.json() == ["Apple", "Car", "Room"]


async def test_list_types_count_option(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types", params={"options": "count,values", "limit": "1", "offset": "1"})
    assert r.headers["Fiware-Total-Count"] == "3"
    assert await r.json() == ["Car"]


async def test_list_types_no_attr_detail(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types", params={"options": "noAttrDetail"})
    body = await r.json()
    assert body[1] == {"type": "Car", "attrs": {"plate": {"types": []}, "speed": {"types": []}}, "count": 2}


async def test_list_types_pagination(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types", params={"limit": "2", "options": "values"})
    assert await r.json() == ["Apple", "Car"]
    r = await client.get("/v2/types", params={"offset": "2", "options": "values"})
    assert await r.json() == ["Room"]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"limit": "1001"}, "Bad pagination limit: /1001/ [max: 1000]"),
        ({"offset": "a"}, "Bad pagination offset: /a/ [must be a decimal number]"),
        ({"options": "nope"}, "Invalid value for URI param /options/"),
    ],
)
async def test_list_types_param_errors(client: TestClient, params: dict[str, str], description: str) -> None:
    r = await client.get("/v2/types", params=params)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}


async def test_get_type(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types/Car")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert await r.read() == b'{"attrs":{"plate":{"types":["Text"]},"speed":{"types":["Number","Text"]}},"count":2}'


async def test_get_type_without_attributes(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types/Apple")
    assert await r.json() == {"attrs": {}, "count": 1}


async def test_get_type_no_attr_detail(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types/Car", params={"options": "noAttrDetail"})
    assert await r.json() == {"attrs": {"plate": {"types": []}, "speed": {"types": []}}, "count": 2}


async def test_get_unknown_type_returns_404(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types/Bike")
    assert r.status == 404
    assert await r.json() == {"error": "NotFound", "description": "Entity type not found"}


async def test_types_follow_deletions(client: TestClient) -> None:
    await fleet(client)
    assert (await client.delete("/v2/entities/R1")).status == 204
    r = await client.get("/v2/types/Room")
    assert r.status == 404
    r = await client.get("/v2/types", params={"options": "values"})
    assert await r.json() == ["Apple", "Car"]


async def test_types_are_scoped_by_tenant_and_service_path(client: TestClient) -> None:
    await seed(client, {"id": "X", "type": "Secret"}, headers={"Fiware-Service": "other", "Fiware-ServicePath": "/p"})
    assert await (await client.get("/v2/types")).json() == []
    r = await client.get("/v2/types/Secret")
    assert r.status == 404
    r = await client.get("/v2/types", headers={"Fiware-Service": "other"}, params={"options": "values"})
    assert await r.json() == ["Secret"]
    r = await client.get("/v2/types/Secret", headers={"Fiware-Service": "other", "Fiware-ServicePath": "/q"})
    assert r.status == 404
    r = await client.get("/v2/types/Secret", headers={"Fiware-Service": "other", "Fiware-ServicePath": "/p"})
    assert await r.json() == {"attrs": {}, "count": 1}


async def test_types_trailing_slash(client: TestClient) -> None:
    await fleet(client)
    r = await client.get("/v2/types/", params={"options": "values"})
    assert r.status == 200
    assert await r.json() == ["Apple", "Car", "Room"]


async def test_get_type_with_forbidden_char_in_uri(client: TestClient) -> None:
    r = await client.get("/v2/types/Car%3B")
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "invalid character in URI"}
