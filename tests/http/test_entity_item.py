"""GET and DELETE /v2/entities/{id}: lookups by id and type, ambiguity, projections, deletion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

NOT_FOUND = {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"}
TOO_MANY = {"error": "TooManyResults", "description": "More than one matching entity. Please refine your query"}


async def seed(client: TestClient, *entities: dict[str, Any]) -> None:
    for e in entities:
        r = await client.post("/v2/entities", json=e)
        assert r.status == 201, await r.text()


async def test_get_entity_renders_normalized(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1, "metadata": {"m": {"value": "x", "type": "Y"}}}})
    r = await client.get("/v2/entities/E")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert "Server" not in r.headers
    assert await r.read() == (
        b'{"id":"E","type":"T","a":{"type":"Number","value":1,"metadata":{"m":{"type":"Y","value":"x"}}}}'
    )


async def test_get_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.get("/v2/entities/Nope")
    assert r.status == 404
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == NOT_FOUND


async def test_get_with_wrong_type_returns_404(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T"})
    r = await client.get("/v2/entities/E", params={"type": "Other"})
    assert r.status == 404
    assert await r.json() == NOT_FOUND


async def test_same_id_with_two_types_is_ambiguous_without_type(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T1", "a": {"value": 1}}, {"id": "E", "type": "T2", "a": {"value": 2}})
    r = await client.get("/v2/entities/E")
    assert r.status == 409
    assert await r.json() == TOO_MANY
    r = await client.get("/v2/entities/E", params={"type": "T2", "options": "keyValues"})
    assert r.status == 200
    assert await r.json() == {"id": "E", "type": "T2", "a": 2}


async def test_ambiguous_delete_returns_409_and_deletes_nothing(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T1"}, {"id": "E", "type": "T2"})
    r = await client.delete("/v2/entities/E")
    assert r.status == 409
    assert await r.json() == TOO_MANY
    r = await client.get("/v2/entities", params={"options": "keyValues"})
    assert await r.json() == [{"id": "E", "type": "T1"}, {"id": "E", "type": "T2"}]


async def test_delete_with_type_removes_only_that_entity(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T1"}, {"id": "E", "type": "T2"})
    r = await client.delete("/v2/entities/E", params={"type": "T1"})
    assert r.status == 204
    assert await r.read() == b""
    r = await client.get("/v2/entities/E")
    assert r.status == 200
    assert (await r.json())["type"] == "T2"


async def test_ambiguity_is_also_reported_on_attribute_routes(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T1", "a": {"value": 1}}, {"id": "E", "type": "T2", "a": {"value": 2}})
    for path in ("/v2/entities/E/attrs", "/v2/entities/E/attrs/a"):
        r = await client.get(path)
        assert r.status == 409, path
        assert await r.json() == TOO_MANY


async def test_delete_entity_then_404(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.delete("/v2/entities/E")
    assert r.status == 204
    assert r.headers["Fiware-Correlator"]
    r = await client.get("/v2/entities/E")
    assert r.status == 404
    assert await r.json() == NOT_FOUND
    assert await (await client.get("/v2/entities")).json() == []


async def test_delete_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.delete("/v2/entities/Nope")
    assert r.status == 404
    assert await r.json() == NOT_FOUND


async def test_deleted_entity_can_be_created_again(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    assert (await client.delete("/v2/entities/E")).status == 204
    await seed(client, {"id": "E", "b": {"value": 2}})
    r = await client.get("/v2/entities/E", params={"options": "keyValues"})
    assert await r.json() == {"id": "E", "type": "Thing", "b": 2}


async def test_get_entity_key_values_and_values(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1}, "b": {"value": [1, 2]}})
    r = await client.get("/v2/entities/E", params={"options": "keyValues"})
    assert await r.json() == {"id": "E", "type": "T", "a": 1, "b": [1, 2]}
    r = await client.get("/v2/entities/E", params={"options": "values", "attrs": "b,a"})
    assert await r.json() == [[1, 2], 1]
    r = await client.get("/v2/entities/E", params={"options": "values"})
    assert await r.json() == [1, [1, 2]]


async def test_get_entity_attrs_and_metadata_params(client: TestClient) -> None:
    await seed(
        client,
        {"id": "E", "a": {"value": 1, "metadata": {"m1": {"value": 1}, "m2": {"value": 2}}}, "b": {"value": 2}},
    )
    r = await client.get("/v2/entities/E", params={"attrs": "a", "metadata": "m1"})
    assert await r.json() == {
        "id": "E",
        "type": "Thing",
        "a": {"type": "Number", "value": 1, "metadata": {"m1": {"type": "Number", "value": 1}}},
    }


async def test_get_entity_builtins_only_when_asked(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.get("/v2/entities/E", params={"attrs": "dateCreated,dateModified,*", "metadata": "dateModified"})
    body = await r.json()
    assert list(body) == ["id", "type", "a", "dateCreated", "dateModified"]  # Orion: own attributes first
    assert body["dateCreated"]["type"] == "DateTime"
    assert body["a"]["metadata"]["dateModified"]["type"] == "DateTime"
    assert body["a"]["metadata"]["dateModified"]["value"] == body["dateModified"]["value"]


async def test_date_modified_advances_on_update_and_date_created_stays(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.get("/v2/entities/E", params={"attrs": "dateCreated,dateModified", "options": "keyValues"})
    before = await r.json()
    await asyncio.sleep(0.01)
    assert (await client.patch("/v2/entities/E/attrs", json={"a": {"value": 2}})).status == 204
    r = await client.get("/v2/entities/E", params={"attrs": "dateCreated,dateModified", "options": "keyValues"})
    after = await r.json()
    assert after["dateCreated"] == before["dateCreated"]
    assert after["dateModified"] > before["dateModified"]


async def test_trailing_slash_on_item(client: TestClient) -> None:
    await seed(client, {"id": "E"})
    r = await client.get("/v2/entities/E/")
    assert r.status == 200
    assert (await r.json())["id"] == "E"


@pytest.mark.parametrize(
    ("accept", "description"),
    [
        ("text/plain", "acceptable MIME types: application/json"),
        # a range Orion does not know at all is dropped while the header is read (acceptParse)
        ("text/html", "no acceptable mime-type in accept header"),
        ("application/xml", "no acceptable mime-type in accept header"),
    ],
)
async def test_get_entity_with_unacceptable_accept_returns_406(
    client: TestClient, accept: str, description: str
) -> None:
    await seed(client, {"id": "E"})
    r = await client.get("/v2/entities/E", headers={"Accept": accept})
    assert r.status == 406
    assert await r.json() == {"error": "NotAcceptable", "description": description}


@pytest.mark.parametrize("accept", ["*/*", "application/*", "application/json", "text/plain, application/json"])
async def test_get_entity_with_acceptable_accept(client: TestClient, accept: str) -> None:
    await seed(client, {"id": "E"})
    r = await client.get("/v2/entities/E", headers={"Accept": accept})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/v2/entities/E%20x", "/v2/entities/%C3%A9", "/v2/entities/a%23b"])
async def test_get_entity_with_forbidden_id_chars_in_path_returns_invalid_character_in_uri(
    client: TestClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "invalid character in URI"}


async def test_get_entity_with_forbidden_general_char_in_path(client: TestClient) -> None:
    r = await client.get("/v2/entities/E%3C")
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "invalid character in URI"}


async def test_get_entity_type_param_with_forbidden_char(client: TestClient) -> None:
    r = await client.get("/v2/entities/E", params={"type": "T>"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "invalid character in URI parameter"}


async def test_get_entity_empty_type_param(client: TestClient) -> None:
    r = await client.get("/v2/entities/E?type=")
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Empty right-hand-side for URI param /type/"}


async def test_get_entity_unknown_option(client: TestClient) -> None:
    await seed(client, {"id": "E"})
    r = await client.get("/v2/entities/E", params={"options": "sysAttrs"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid value for URI param /options/"}
