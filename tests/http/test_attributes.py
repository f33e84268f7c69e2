"""/v2/entities/{id}/attrs (GET, POST, PATCH, PUT) and /v2/entities/{id}/attrs/{attr} (GET, PUT, DELETE)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

ENTITY_NOT_FOUND = {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"}
ATTR_NOT_FOUND = {"error": "NotFound", "description": "The entity does not have such an attribute"}


async def seed(client: TestClient, entity: dict[str, Any]) -> None:
    r = await client.post("/v2/entities", json=entity)
    assert r.status == 201, await r.text()


async def entity(client: TestClient, eid: str = "E", **params: str) -> Any:
    r = await client.get(f"/v2/entities/{eid}", params=params or None)
    assert r.status == 200, await r.text()
    return await r.json()


async def kv(client: TestClient, eid: str = "E") -> Any:
    return await entity(client, eid, options="keyValues")


def num(value: Any, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "Number", "value": value, "metadata": metadata or {}}


# ---- GET /attrs ---------------------------------------------------------------------------------


async def test_get_attrs_omits_id_and_type(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1}, "b": {"value": "x"}})
    r = await client.get("/v2/entities/E/attrs")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == {"a": num(1), "b": {"type": "Text", "value": "x", "metadata": {}}}


async def test_get_attrs_key_values_values_and_projection(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": "x"}})
    r = await client.get("/v2/entities/E/attrs", params={"options": "keyValues"})
    assert await r.json() == {"a": 1, "b": "x"}
    r = await client.get("/v2/entities/E/attrs", params={"options": "values", "attrs": "b,a"})
    assert await r.json() == ["x", 1]
    r = await client.get("/v2/entities/E/attrs", params={"attrs": "b"})
    assert await r.json() == {"b": {"type": "Text", "value": "x", "metadata": {}}}


async def test_get_attrs_of_entity_without_attributes_is_empty_object(client: TestClient) -> None:
    await seed(client, {"id": "E"})
    r = await client.get("/v2/entities/E/attrs")
    assert r.status == 200
    assert await r.read() == b"{}"


async def test_get_attrs_of_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.get("/v2/entities/Nope/attrs")
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


# ---- POST /attrs ------------------------------------------------------------------------------


async def test_post_attrs_updates_existing_and_appends_new(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": 2}})
    r = await client.post("/v2/entities/E/attrs", json={"a": {"value": 10}, "c": {"value": 3}})
    assert r.status == 204
    assert await r.read() == b""
    assert await entity(client) == {"id": "E", "type": "Thing", "a": num(10), "b": num(2), "c": num(3)}


async def test_post_attrs_key_values(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.post("/v2/entities/E/attrs", params={"options": "keyValues"}, json={"a": "s", "b": [1]})
    assert r.status == 204
    assert await entity(client) == {
        "id": "E",
        "type": "Thing",
        "a": {"type": "Text", "value": "s", "metadata": {}},
        "b": {"type": "StructuredValue", "value": [1], "metadata": {}},
    }


async def test_post_attrs_on_unknown_entity_returns_404_and_creates_nothing(client: TestClient) -> None:
    r = await client.post("/v2/entities/Nope/attrs", json={"a": {"value": 1}})
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND
    assert await (await client.get("/v2/entities")).json() == []


async def test_post_attrs_append_strict_adds_new_attributes(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.post("/v2/entities/E/attrs", params={"options": "append"}, json={"b": {"value": 2}})
    assert r.status == 204
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1, "b": 2}


async def test_post_attrs_append_strict_all_existing_is_unprocessable_and_changes_nothing(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": 2}})
    r = await client.post(
        "/v2/entities/E/attrs", params={"options": "append"}, json={"a": {"value": 9}, "b": {"value": 9}}
    )
    assert r.status == 422
    assert await r.json() == {
        "error": "Unprocessable",
        "description": "one or more of the attributes in the request already exist: E - [ a, b ]",
    }
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1, "b": 2}


async def test_post_attrs_append_strict_with_type_names_entity_and_type(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1}})
    r = await client.post("/v2/entities/E/attrs", params={"options": "append", "type": "T"}, json={"a": {"value": 9}})
    assert r.status == 422
    assert await r.json() == {
        "error": "Unprocessable",
        "description": "one or more of the attributes in the request already exist: E/T - [ a ]",
    }


async def test_post_attrs_append_strict_some_existing_is_partial_update(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.post(
        "/v2/entities/E/attrs", params={"options": "append"}, json={"a": {"value": 9}, "c": {"value": 3}}
    )
    assert r.status == 422
    assert await r.json() == {
        "error": "PartialUpdate",
        "description": "one or more of the attributes in the request already exist: E - [ a ]",
    }
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1, "c": 3}


# ---- PATCH /attrs -----------------------------------------------------------------------------


async def test_patch_attrs_updates_existing(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": 2}})
    r = await client.patch("/v2/entities/E/attrs", json={"b": {"value": 20, "type": "Integer"}})
    assert r.status == 204
    assert await entity(client) == {
        "id": "E",
        "type": "Thing",
        "a": num(1),
        "b": {"type": "Integer", "value": 20, "metadata": {}},
    }


async def test_patch_unknown_attribute_returns_422_and_changes_nothing(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", json={"c": {"value": 3}, "d": {"value": 4}})
    assert r.status == 422
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == {"error": "Unprocessable", "description": "do not exist: E - [ c, d ]"}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1}


async def test_patch_unknown_attribute_with_type_names_type(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", params={"type": "T"}, json={"c": {"value": 3}})
    assert r.status == 422
    assert await r.json() == {"error": "Unprocessable", "description": "do not exist: E/T - [ c ]"}


async def test_patch_some_unknown_attributes_is_partial_update(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", json={"a": {"value": 5}, "c": {"value": 3}})
    assert r.status == 422
    assert await r.json() == {"error": "PartialUpdate", "description": "do not exist: E - [ c ]"}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 5}


async def test_patch_on_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.patch("/v2/entities/Nope/attrs", json={"a": {"value": 1}})
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


async def test_patch_with_wrong_type_returns_404(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", params={"type": "X"}, json={"a": {"value": 2}})
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND
    assert await kv(client) == {"id": "E", "type": "T", "a": 1}


async def test_patch_key_values(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", params={"options": "keyValues"}, json={"a": {"x": 1}})
    assert r.status == 204
    assert (await entity(client))["a"] == {"type": "StructuredValue", "value": {"x": 1}, "metadata": {}}


# ---- metadata merge -------------------------------------------------------------------------


async def md_seed(client: TestClient) -> None:
    await seed(
        client,
        {"id": "E", "a": {"value": 1, "metadata": {"m1": {"value": "one"}, "m2": {"value": "two"}}}},
    )


async def test_update_merges_metadata_by_default(client: TestClient) -> None:
    await md_seed(client)
    r = await client.patch(
        "/v2/entities/E/attrs", json={"a": {"value": 2, "metadata": {"m2": {"value": 22}, "m3": {"value": 3}}}}
    )
    assert r.status == 204
    assert (await entity(client))["a"]["metadata"] == {
        "m1": {"type": "Text", "value": "one"},
        "m2": {"type": "Number", "value": 22},
        "m3": {"type": "Number", "value": 3},
    }


async def test_update_without_metadata_keeps_existing_metadata(client: TestClient) -> None:
    await md_seed(client)
    assert (await client.patch("/v2/entities/E/attrs", json={"a": {"value": 2}})).status == 204
    assert set((await entity(client))["a"]["metadata"]) == {"m1", "m2"}


async def test_override_metadata_replaces_all_metadata(client: TestClient) -> None:
    await md_seed(client)
    r = await client.patch(
        "/v2/entities/E/attrs",
        params={"options": "overrideMetadata"},
        json={"a": {"value": 2, "metadata": {"m3": {"value": 3}}}},
    )
    assert r.status == 204
    assert (await entity(client))["a"] == num(2, {"m3": {"type": "Number", "value": 3}})


async def test_override_metadata_without_metadata_removes_all(client: TestClient) -> None:
    await md_seed(client)
    r = await client.post("/v2/entities/E/attrs", params={"options": "overrideMetadata"}, json={"a": {"value": 2}})
    assert r.status == 204
    assert (await entity(client))["a"] == num(2)


# ---- PUT /attrs ----------------------------------------------------------------------------


async def test_put_attrs_replaces_all_attributes(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T", "a": {"value": 1, "metadata": {"m": {"value": 1}}}, "b": {"value": 2}})
    r = await client.put("/v2/entities/E/attrs", json={"a": {"value": 5}, "c": {"value": "new"}})
    assert r.status == 204
    assert await entity(client) == {
        "id": "E",
        "type": "T",
        "a": num(5),
        "c": {"type": "Text", "value": "new", "metadata": {}},
    }


async def test_put_attrs_key_values(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.put("/v2/entities/E/attrs", params={"options": "keyValues"}, json={"z": True})
    assert r.status == 204
    assert await kv(client) == {"id": "E", "type": "Thing", "z": True}


async def test_put_attrs_on_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.put("/v2/entities/Nope/attrs", json={"a": {"value": 1}})
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


@pytest.mark.parametrize("method", ["post", "patch", "put"])
@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({"id": "E", "a": {"value": 1}}, "entity id specified in payload"),
        ({"type": "T", "a": {"value": 1}}, "entity type specified in payload"),
        ({}, "empty payload"),
        ({"a": 1}, "attribute must be a JSON object, unless keyValues option is used"),
        ({"a": {"value": 1, "foo": 2}}, "unrecognized property for context attribute"),
        ({"a": {"value": 1, "type": 3}}, "invalid JSON type for attribute type"),
    ],
)
async def test_attrs_body_errors_are_rejected_and_change_nothing(
    client: TestClient, method: str, body: dict[str, Any], description: str
) -> None:
    await seed(client, {"id": "E", "a": {"value": 0}})
    r = await getattr(client, method)("/v2/entities/E/attrs", json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 0}


# ---- /attrs/{attr} -----------------------------------------------------------------------------


async def test_get_attribute(client: TestClient) -> None:
    await seed(client, {"id": "E", "temp": {"value": 21.7, "metadata": {"unit": {"value": "C"}}}})
    r = await client.get("/v2/entities/E/attrs/temp")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert await r.read() == b'{"type":"Number","value":21.7,"metadata":{"unit":{"type":"Text","value":"C"}}}'


async def test_get_attribute_metadata_projection(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1, "metadata": {"m1": {"value": 1}, "m2": {"value": 2}}}})
    r = await client.get("/v2/entities/E/attrs/a", params={"metadata": "m2,dateCreated"})
    body = await r.json()
    assert list(body["metadata"]) == ["m2", "dateCreated"]
    assert body["metadata"]["dateCreated"]["type"] == "DateTime"


async def test_get_unknown_attribute_returns_404(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.get("/v2/entities/E/attrs/nope")
    assert r.status == 404
    assert await r.json() == ATTR_NOT_FOUND


async def test_get_attribute_of_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.get("/v2/entities/Nope/attrs/a")
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


async def test_put_attribute_replaces_value_and_type(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": 2}})
    r = await client.put("/v2/entities/E/attrs/a", json={"value": "x", "type": "Word"})
    assert r.status == 204
    assert await r.read() == b""
    assert (await entity(client))["a"] == {"type": "Word", "value": "x", "metadata": {}}
    assert (await entity(client))["b"] == num(2)


async def test_put_attribute_merges_metadata_unless_override(client: TestClient) -> None:
    await md_seed(client)
    r = await client.put("/v2/entities/E/attrs/a", json={"value": 2, "metadata": {"m3": {"value": 3}}})
    assert r.status == 204
    assert set((await entity(client))["a"]["metadata"]) == {"m1", "m2", "m3"}
    r = await client.put(
        "/v2/entities/E/attrs/a", params={"options": "overrideMetadata"}, json={"value": 2, "metadata": {}}
    )
    assert r.status == 204
    assert (await entity(client))["a"]["metadata"] == {}


async def test_put_unknown_attribute_returns_404_and_creates_nothing(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.put("/v2/entities/E/attrs/nope", json={"value": 1})
    assert r.status == 404
    assert await r.json() == ATTR_NOT_FOUND
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1}


async def test_put_attribute_of_unknown_entity_returns_404(client: TestClient) -> None:
    r = await client.put("/v2/entities/Nope/attrs/a", json={"value": 1})
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


@pytest.mark.parametrize("body", [b"[1]", b'"x"', b"3"])
async def test_put_attribute_non_object_body_is_parse_error(client: TestClient, body: bytes) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.put("/v2/entities/E/attrs/a", data=body, headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {"error": "ParseError", "description": "Errors found in incoming JSON buffer"}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1}


async def test_put_attribute_invalid_value_is_rejected(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.put("/v2/entities/E/attrs/a", json={"value": "<script>"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid characters in attribute value"}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1}


async def test_delete_attribute(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}, "b": {"value": 2}})
    r = await client.delete("/v2/entities/E/attrs/a")
    assert r.status == 204
    assert await r.read() == b""
    assert await kv(client) == {"id": "E", "type": "Thing", "b": 2}
    r = await client.get("/v2/entities/E/attrs/a")
    assert r.status == 404
    assert await r.json() == ATTR_NOT_FOUND


async def test_delete_unknown_attribute_returns_404(client: TestClient) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await client.delete("/v2/entities/E/attrs/nope")
    assert r.status == 404
    assert await r.json() == ATTR_NOT_FOUND
    r = await client.delete("/v2/entities/Nope/attrs/a")
    assert r.status == 404
    assert await r.json() == ENTITY_NOT_FOUND


async def test_delete_attribute_with_type_disambiguates(client: TestClient) -> None:
    await seed(client, {"id": "E", "type": "T1", "a": {"value": 1}})
    await seed(client, {"id": "E", "type": "T2", "a": {"value": 2}})
    r = await client.delete("/v2/entities/E/attrs/a")
    assert r.status == 409
    r = await client.delete("/v2/entities/E/attrs/a", params={"type": "T2"})
    assert r.status == 204
    assert await entity(client, "E", type="T2", options="keyValues") == {"id": "E", "type": "T2"}
    assert await entity(client, "E", type="T1", options="keyValues") == {"id": "E", "type": "T1", "a": 1}


@pytest.mark.parametrize(
    ("method", "path", "description"),
    [
        ("get", "/v2/entities/E/attrs//value", "attribute name length: 0, min length supported: 1"),
        ("get", "/v2/entities/E/attrs//value/", "attribute name length: 0, min length supported: 1"),
        ("delete", "/v2/entities//attrs/a", "entity id length: 0, min length supported: 1"),
        ("get", "/v2/entities//attrs", "entity id length: 0, min length supported: 1"),
    ],
)
async def test_empty_path_segment_is_named_in_the_error(
    client: TestClient, method: str, path: str, description: str
) -> None:
    await seed(client, {"id": "E", "a": {"value": 1}})
    r = await getattr(client, method)(path)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}
    assert await kv(client) == {"id": "E", "type": "Thing", "a": 1}
