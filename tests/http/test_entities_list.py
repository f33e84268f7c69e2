"""GET /v2/entities: filters, projections, formats, pagination and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient


async def seed(client: TestClient, *entities: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    for e in entities:
        r = await client.post("/v2/entities", json=e, headers=headers)
        assert r.status == 201, await r.text()


async def ids(client: TestClient, **params: str) -> list[str]:
    r = await client.get("/v2/entities", params=params or None)
    assert r.status == 200, await r.text()
    return [e["id"] for e in await r.json()]


async def error(client: TestClient, status: int, params: dict[str, str]) -> dict[str, str]:
    r = await client.get("/v2/entities", params=params)
    assert r.status == status, await r.text()
    assert r.headers["Content-Type"] == "application/json"
    return await r.json()


async def three(client: TestClient) -> None:
    await seed(
        client,
        {"id": "Room1", "type": "Room", "temp": {"value": 21}, "hum": {"value": 40}},
        {"id": "Car1", "type": "Car", "speed": {"value": 90}},
        {"id": "Room2", "type": "Room", "temp": {"value": 19}},
    )


async def test_empty_list_is_an_empty_array(client: TestClient) -> None:
    r = await client.get("/v2/entities")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert await r.read() == b"[]"
    assert "Fiware-Total-Count" not in r.headers


async def test_default_order_is_creation_order(client: TestClient) -> None:
    await three(client)
    assert await ids(client) == ["Room1", "Car1", "Room2"]


async def test_filter_by_id_and_comma_list(client: TestClient) -> None:
    await three(client)
    assert await ids(client, id="Car1") == ["Car1"]
    assert await ids(client, id="Room2,Car1") == ["Car1", "Room2"]
    assert await ids(client, id="Nope") == []


async def test_filter_by_type_and_comma_list(client: TestClient) -> None:
    await three(client)
    assert await ids(client, type="Room") == ["Room1", "Room2"]
    assert await ids(client, type="Car,Room") == ["Room1", "Car1", "Room2"]
    assert await ids(client, type="Bike") == []


async def test_filter_by_id_pattern_and_type_pattern(client: TestClient) -> None:
    await three(client)
    assert await ids(client, idPattern="^Room") == ["Room1", "Room2"]
    assert await ids(client, idPattern=".*1$") == ["Room1", "Car1"]
    assert await ids(client, typePattern="^C") == ["Car1"]
    assert await ids(client, idPattern="Room", type="Room") == ["Room1", "Room2"]


async def test_id_and_type_combined(client: TestClient) -> None:
    await three(client)
    assert await ids(client, id="Room1,Car1", type="Car") == ["Car1"]


async def test_attrs_projection_keeps_id_and_type(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"attrs": "temp", "type": "Room"})
    assert await r.json() == [
        {"id": "Room1", "type": "Room", "temp": {"type": "Number", "value": 21, "metadata": {}}},
        {"id": "Room2", "type": "Room", "temp": {"type": "Number", "value": 19, "metadata": {}}},
    ]


async def test_attrs_naming_absent_attribute_still_lists_entity(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"attrs": "nothing", "id": "Car1"})
    assert await r.json() == [{"id": "Car1", "type": "Car"}]


async def test_metadata_projection(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1, "metadata": {"m1": {"value": 1}, "m2": {"value": 2}}}})
    r = await client.get("/v2/entities", params={"metadata": "m2"})
    assert (await r.json())[0]["a"]["metadata"] == {"m2": {"type": "Number", "value": 2}}


async def test_key_values_format(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"options": "keyValues"})
    assert await r.json() == [
        {"id": "Room1", "type": "Room", "temp": 21, "hum": 40},
        {"id": "Car1", "type": "Car", "speed": 90},
        {"id": "Room2", "type": "Room", "temp": 19},
    ]


async def test_values_format_with_attrs_order(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"options": "values", "attrs": "hum,temp", "type": "Room"})
    assert await r.json() == [[40, 21], [19]]


async def test_unique_removes_repeats_within_an_entity_not_across_entities(client: TestClient) -> None:
    await seed(
        client,
        {"id": "A", "c": {"value": "red"}},
        {"id": "B", "c": {"value": "blue"}},
        {"id": "C", "c": {"value": "red"}},
    )
    r = await client.get("/v2/entities", params={"options": "unique", "attrs": "c"})
    assert r.status == 200
    assert await r.json() == [["red"], ["blue"], ["red"]]  # Orion's Entity::toJsonUniqueValues


async def test_count_option_sets_total_count_header(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"options": "count", "limit": "1"})
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "3"
    assert len(await r.json()) == 1
    r = await client.get("/v2/entities", params={"options": "count", "type": "Room"})
    assert r.headers["Fiware-Total-Count"] == "2"
    r = await client.get("/v2/entities", params={"options": "count", "type": "None"})
    assert r.headers["Fiware-Total-Count"] == "0"
    assert await r.json() == []


async def test_total_count_header_order(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"options": "count"})
    assert list(r.headers.keys()) == [
        "Date",
        "Fiware-Correlator",
        "Fiware-Total-Count",
        "Content-Type",
        "Content-Length",
    ]


async def test_count_combined_with_key_values(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities", params={"options": "count,keyValues", "attrs": "speed", "type": "Car"})
    assert r.headers["Fiware-Total-Count"] == "1"
    assert await r.json() == [{"id": "Car1", "type": "Car", "speed": 90}]


async def test_limit_and_offset_page_in_creation_order(client: TestClient) -> None:
    await seed(client, *({"id": f"E{i:02d}"} for i in range(25)))
    assert await ids(client) == [f"E{i:02d}" for i in range(20)]  # default limit 20
    assert await ids(client, limit="5", offset="3") == [f"E{i:02d}" for i in range(3, 8)]
    assert await ids(client, offset="20") == [f"E{i:02d}" for i in range(20, 25)]
    assert await ids(client, offset="100") == []
    assert len(await ids(client, limit="1000")) == 25


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"limit": "1001"}, "Bad pagination limit: /1001/ [max: 1000]"),
        ({"limit": "-1"}, "Bad pagination limit: /-1/ [must be a decimal number]"),
        ({"limit": "1.5"}, "Bad pagination limit: /1.5/ [must be a decimal number]"),
        ({"limit": "abc"}, "Bad pagination limit: /abc/ [must be a decimal number]"),
        ({"offset": "-1"}, "Bad pagination offset: /-1/ [must be a decimal number]"),
        ({"offset": "x"}, "Bad pagination offset: /x/ [must be a decimal number]"),
        ({"offset": "2.0"}, "Bad pagination offset: /2.0/ [must be a decimal number]"),
        ({"limit": ""}, "Empty right-hand-side for URI param /limit/"),
        ({"offset": ""}, "Empty right-hand-side for URI param /offset/"),
    ],
)
async def test_pagination_errors(client: TestClient, params: dict[str, str], description: str) -> None:
    assert await error(client, 400, params) == {"error": "BadRequest", "description": description}


@pytest.mark.parametrize("name", ["type", "id", "attrs", "options", "idPattern", "metadata"])
async def test_empty_uri_param_is_rejected(client: TestClient, name: str) -> None:
    assert await error(client, 400, {name: ""}) == {
        "error": "BadRequest",
        "description": f"Empty right-hand-side for URI param /{name}/",
    }


@pytest.mark.parametrize("value", ["bogus", "count,bogus", "KEYVALUES", "keyvalues"])
async def test_unknown_option_is_rejected(client: TestClient, value: str) -> None:
    assert await error(client, 400, {"options": value}) == {
        "error": "BadRequest",
        "description": "Invalid value for URI param /options/",
    }


@pytest.mark.parametrize(("name", "value"), [("type", "T<"), ("id", "a'b"), ("attrs", "x=y")])
async def test_forbidden_char_in_uri_param(client: TestClient, name: str, value: str) -> None:
    assert await error(client, 400, {name: value}) == {
        "error": "BadRequest",
        "description": "invalid character in URI parameter",
    }


async def test_forbidden_char_in_limit_reports_the_pagination_error_first(client: TestClient) -> None:
    assert await error(client, 400, {"limit": "(1)"}) == {
        "error": "BadRequest",
        "description": "Bad pagination limit: /&#40;1&#41;/ [must be a decimal number]",
    }


async def test_forbidden_chars_allowed_in_id_pattern(client: TestClient) -> None:
    await three(client)
    assert await ids(client, idPattern="^(Room1|Car1)$") == ["Room1", "Car1"]


async def test_builtin_attributes_only_when_asked(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    plain = (await (await client.get("/v2/entities")).json())[0]
    assert set(plain) == {"id", "type", "a"}
    r = await client.get("/v2/entities", params={"attrs": "dateCreated,*"})
    body = (await r.json())[0]
    assert list(body) == ["id", "type", "a", "dateCreated"]  # Orion: own attributes, then built-ins
    assert body["dateCreated"]["type"] == "DateTime"
    assert body["dateCreated"]["metadata"] == {}
    assert body["dateCreated"]["value"].endswith("Z")
    r = await client.get("/v2/entities", params={"attrs": "dateModified"})
    assert list((await r.json())[0]) == ["id", "type", "dateModified"]


async def test_builtin_metadata_only_when_asked(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1, "metadata": {"m": {"value": "x"}}}})
    r = await client.get("/v2/entities", params={"metadata": "dateModified"})
    md = (await r.json())[0]["a"]["metadata"]
    assert list(md) == ["dateModified"]
    assert md["dateModified"]["type"] == "DateTime"
    r = await client.get("/v2/entities", params={"metadata": "dateModified,*"})
    assert set((await r.json())[0]["a"]["metadata"]) == {"m", "dateModified"}


async def test_user_attribute_named_like_builtin_takes_precedence(client: TestClient) -> None:
    await seed(client, {"id": "E", "dateCreated": {"value": "mine"}})
    r = await client.get("/v2/entities", params={"attrs": "dateCreated", "options": "keyValues"})
    assert await r.json() == [{"id": "E", "type": "Thing", "dateCreated": "mine"}]


async def test_trailing_slash_lists_too(client: TestClient) -> None:
    await three(client)
    r = await client.get("/v2/entities/", params={"type": "Car"})
    assert r.status == 200
    assert [e["id"] for e in await r.json()] == ["Car1"]


async def test_accept_application_json_is_acceptable(client: TestClient) -> None:
    r = await client.get("/v2/entities", headers={"Accept": "application/json"})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
