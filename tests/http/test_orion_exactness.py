"""Details where Orion 4.x answers differently from a first reading of its manual (issue 18).

Each test names the Orion behaviour it pins; the expected answers come from Orion's functional
cases and source, not from our implementation.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient


async def batch(client: TestClient, body: dict[str, Any], **params: str) -> Any:
    return await client.post("/v2/op/update", json=body, params=params)


async def get_kv(client: TestClient, eid: str, **params: str) -> Any:
    r = await client.get(f"/v2/entities/{eid}", params={"options": "keyValues", **params})
    assert r.status == 200, await r.text()
    return await r.json()


# ---- batch update actionType -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("append_strict", "appendStrict"),
        ("APPEND_STRICT", "appendStrict"),
        ("Append_Strict", "appendStrict"),
        ("APPEND", "append"),
        ("Update", "update"),
        ("REPLACE", "replace"),
        ("DeLeTe", "delete"),
    ],
)
async def test_batch_takes_ngsiv1_action_names_in_any_case(client: TestClient, action: str, expected: str) -> None:
    r = await batch(client, {"actionType": "append", "entities": [{"id": "E", "type": "T", "a": {"value": 1}}]})
    assert r.status == 204
    attrs = {"delete": {}, "appendStrict": {"b": {"value": 2}}}.get(expected, {"a": {"value": 5}})
    r = await batch(client, {"actionType": action, "entities": [{"id": "E", "type": "T", **attrs}]})
    assert r.status == 204, await r.text()
    r = await client.get("/v2/entities/E", params={"options": "keyValues"})
    if expected == "delete":
        assert r.status == 404
    elif expected == "appendStrict":
        assert await r.json() == {"id": "E", "type": "T", "a": 1, "b": 2}
    else:
        assert await r.json() == {"id": "E", "type": "T", "a": 5}


@pytest.mark.parametrize("action", ["appendstrict", "APPENDSTRICT", "Append-Strict", "upsert", "", 3])
async def test_batch_refuses_other_action_names(client: TestClient, action: Any) -> None:
    r = await batch(client, {"actionType": action, "entities": [{"id": "E"}]})
    assert r.status == 400
    assert await r.json() == {
        "error": "BadRequest",
        "description": "invalid update action type: right ones are: append, appendStric, delete, replace, update",
    }


async def test_batch_update_with_id_pattern_is_not_implemented(client: TestClient) -> None:
    r = await batch(client, {"actionType": "update", "entities": [{"idPattern": "^E", "type": "T", "a": {"value": 1}}]})
    assert r.status == 501
    assert await r.json() == {"error": "NotImplemented", "description": "NotImplemented"}
    r = await client.get("/v2/entities")
    assert await r.json() == []


async def test_batch_entity_with_id_and_id_pattern_is_a_bad_request(client: TestClient) -> None:
    r = await batch(client, {"actionType": "append", "entities": [{"id": "E", "idPattern": "^E"}]})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "both /id/ and /idPattern/ present"}


# ---- op/query's deprecated `attributes` ------------------------------------------------------


async def test_batch_query_attributes_selects_entities_with_one_of_them_and_projects(client: TestClient) -> None:
    entities = [
        {"id": "E1", "type": "T", "a": {"value": 1}, "b": {"value": 2}, "c": {"value": 3}},
        {"id": "E2", "type": "T", "b": {"value": 4}},
        {"id": "E3", "type": "T", "c": {"value": 5}},
    ]
    assert (await batch(client, {"actionType": "append", "entities": entities})).status == 204
    r = await client.post("/v2/op/query", json={"attributes": ["a", "b"]}, params={"options": "keyValues,count"})
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "2"
    assert await r.json() == [{"id": "E1", "type": "T", "a": 1, "b": 2}, {"id": "E2", "type": "T", "b": 4}]
    r = await client.post(
        "/v2/op/query", json={"attributes": ["a", "b"], "attrs": ["b"]}, params={"options": "keyValues"}
    )
    assert await r.json() == [{"id": "E1", "type": "T", "b": 2}, {"id": "E2", "type": "T", "b": 4}]


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({"attributes": "a"}, "the field /attributes/ must be a JSON array"),
        ({"attrs": ["a", 1]}, "only JSON Strings allowed in attrs list"),
        ({"metadata": {}, "attrs": []}, "the field /metadata/ must be a JSON array"),
        ({"attrs": [], "bogus": 1}, "Unrecognized field in JSON payload: /bogus/"),
    ],
)
async def test_batch_query_string_list_errors(client: TestClient, body: dict[str, Any], description: str) -> None:
    r = await client.post("/v2/op/query", json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}


# ---- limit=0 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/entities", "/v2/types", "/v2/subscriptions", "/v2/registrations"])
async def test_limit_zero_lists_nothing(client: TestClient, path: str) -> None:
    await client.post("/v2/entities", json={"id": "E1", "type": "T"})
    r = await client.get(path, params={"limit": "0"})
    assert r.status == 200
    assert "Fiware-Total-Count" not in r.headers
    assert await r.text() == "[]"


async def test_limit_zero_with_count_gives_only_the_count(client: TestClient) -> None:
    r = await client.get("/v2/entities", params={"limit": "0", "options": "count"})
    assert (r.status, r.headers["Fiware-Total-Count"], await r.text()) == (200, "0", "[]")
    for eid in ("E1", "E2"):
        assert (await client.post("/v2/entities", json={"id": eid, "type": "T"})).status == 201
    r = await client.get("/v2/entities", params={"limit": "0", "options": "count"})
    assert (r.status, r.headers["Fiware-Total-Count"], await r.text()) == (200, "2", "[]")
    r = await client.post(
        "/v2/op/query", json={"entities": [{"idPattern": ".*"}]}, params={"limit": "0", "options": "count"}
    )
    assert (r.status, r.headers["Fiware-Total-Count"], await r.text()) == (200, "2", "[]")


# ---- forbidden characters, TextUnrestricted, DateTime null ---------------------------------------


async def test_compound_metadata_value_may_hold_forbidden_characters(client: TestClient) -> None:
    md = {"m": {"type": "StructuredValue", "value": {"note": "it's <ok>", "list": ["a=b;(c)"]}}}
    r = await client.post("/v2/entities", json={"id": "E", "a": {"value": 1, "metadata": md}})
    assert r.status == 201, await r.text()
    r = await client.get("/v2/entities/E/attrs/a")
    assert (await r.json())["metadata"] == md


async def test_plain_string_metadata_value_with_forbidden_characters_is_refused(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "E", "a": {"value": 1, "metadata": {"m": {"value": "it's"}}}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid characters in metadata value"}
    assert (await client.get("/v2/entities/E")).status == 404


async def test_text_unrestricted_skips_the_check_for_attribute_values_only(client: TestClient) -> None:
    body = {
        "id": "E",
        "a": {"type": "TextUnrestricted", "value": "<b>it's</b>"},
        "c": {"type": "TextUnrestricted", "value": ["x=(y)"]},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.get("/v2/entities/E", params={"options": "keyValues"})
    assert await r.json() == {"id": "E", "type": "Thing", "a": "<b>it's</b>", "c": ["x=(y)"]}
    # Orion's Metadata::check does not look at the metadata type
    md = {"m": {"type": "TextUnrestricted", "value": "x=(y)"}}
    r = await client.post("/v2/entities", json={"id": "F", "b": {"value": 1, "metadata": md}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid characters in metadata value"}


async def test_datetime_attribute_and_metadata_may_be_null(client: TestClient) -> None:
    body = {
        "id": "E",
        "t": {"type": "DateTime", "value": None, "metadata": {"when": {"type": "DateTime", "value": None}}},
        "u": {"type": "DateTime"},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.get("/v2/entities/E")
    assert await r.json() == {
        "id": "E",
        "type": "Thing",
        "t": {"type": "DateTime", "value": None, "metadata": {"when": {"type": "DateTime", "value": None}}},
        "u": {"type": "DateTime", "value": None, "metadata": {}},
    }
    r = await client.patch(
        "/v2/entities/E/attrs", json={"u": {"type": "DateTime", "value": "2024-05-01T10:00:00+02:00"}}
    )
    assert r.status == 204
    assert (await get_kv(client, "E", attrs="u"))["u"] == "2024-05-01T08:00:00.000Z"


async def test_datetime_that_is_not_a_date_is_still_refused(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "E", "t": {"type": "DateTime", "value": 5}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "date has invalid format"}


# ---- built-in attributes ---------------------------------------------------------------------


async def test_deprecated_date_options_add_the_builtin_attributes(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E", "type": "T", "a": {"value": 1}})).status == 201
    kv = await get_kv(client, "E", options="keyValues,dateCreated,dateModified")
    assert list(kv) == ["id", "type", "a", "dateCreated", "dateModified"]
    assert kv["dateCreated"] == kv["dateModified"] and kv["dateCreated"].endswith("Z")
    kv = await get_kv(client, "E", options="keyValues,dateModified", attrs="a")
    assert list(kv) == ["id", "type", "a", "dateModified"]
    r = await client.get("/v2/entities", params={"options": "values,dateCreated", "attrs": "a"})
    assert (await r.json())[0][0] == 1 and len((await r.json())[0]) == 2
    r = await client.get("/v2/entities/E/attrs", params={"options": "dateCreated"})
    assert list(await r.json()) == ["a", "dateCreated"]


async def test_user_attributes_named_like_builtins_are_stored_and_shown(client: TestClient) -> None:
    body = {
        "id": "E",
        "dateCreated": {"type": "DateTime", "value": "2020-01-01T00:00:00Z"},
        "dateModified": {"value": "x"},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    assert await get_kv(client, "E") == {
        "id": "E",
        "type": "Thing",
        "dateCreated": "2020-01-01T00:00:00.000Z",
        "dateModified": "x",
    }
    assert await get_kv(client, "E", attrs="dateModified") == {"id": "E", "type": "Thing", "dateModified": "x"}


async def test_date_expires_is_not_an_attribute_of_its_type(client: TestClient) -> None:
    body = {
        "id": "E",
        "type": "T",
        "a": {"value": 1},
        "dateExpires": {"type": "DateTime", "value": "2099-01-01T00:00:00Z"},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.get("/v2/types")
    assert await r.json() == [{"type": "T", "attrs": {"a": {"types": ["Number"]}}, "count": 1}]
    r = await client.get("/v2/types/T")
    assert await r.json() == {"attrs": {"a": {"types": ["Number"]}}, "count": 1}


# ---- numbers -------------------------------------------------------------------------------------


async def test_decimals_render_as_orion_one_to_nine_decimals_case(client: TestClient) -> None:
    values = [42.1, 42.01, 42.001, 42.0001, 42.00001, 42.000001, 42.0000001, 42.00000001, 42.000000001, 42.0000000001]
    body = {"id": "E2", "type": "T", **{f"A{i + 1}": v for i, v in enumerate(values)}}
    assert (await client.post("/v2/entities", json=body, params={"options": "keyValues"})).status == 201
    r = await client.get("/v2/entities/E2/attrs", params={"options": "keyValues"})
    text = await r.text()
    assert text == (
        '{"A1":42.1,"A10":42,"A2":42.01,"A3":42.001,"A4":42.0001,"A5":42.00001,"A6":42.000001,'
        '"A7":42.0000001,"A8":42.00000001,"A9":42}'
    )
    assert len(text) == 126  # Orion's Content-Length for the same attributes


# ---- values / unique ----------------------------------------------------------------------------


async def test_unique_drops_repeated_values_within_each_entity(client: TestClient) -> None:
    entities = [
        {"id": "A", "type": "T", "x": {"value": "red"}, "y": {"value": "red"}, "z": {"value": 1}},
        {"id": "B", "type": "T", "x": {"value": "red"}, "y": {"value": {"k": 1}}, "z": {"value": {"k": 1}}},
    ]
    assert (await batch(client, {"actionType": "append", "entities": entities})).status == 204
    r = await client.get("/v2/entities", params={"options": "unique", "attrs": "x,y,z"})
    assert await r.json() == [["red", 1], ["red", {"k": 1}]]
    r = await client.get("/v2/entities/A", params={"options": "unique"})
    assert await r.json() == ["red", 1]


async def test_key_values_takes_precedence_over_values(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E", "type": "T", "a": {"value": 1}})).status == 201
    assert await get_kv(client, "E", options="values,keyValues") == {"id": "E", "type": "T", "a": 1}
    r = await client.get("/v2/entities/E", params={"options": "unique,values"})
    assert await r.json() == [1]


async def test_star_lists_own_attributes_first_then_named_builtins(client: TestClient) -> None:
    assert (
        await client.post("/v2/entities", json={"id": "E", "type": "T", "a": {"value": 1}, "b": {"value": 2}})
    ).status == 201
    kv = await get_kv(client, "E", attrs="dateModified,*,dateCreated")
    assert list(kv) == ["id", "type", "a", "b", "dateCreated", "dateModified"]
    kv = await get_kv(client, "E", attrs="dateModified,b")
    assert list(kv) == ["id", "type", "dateModified", "b"]


# ---- q on servicePath and lists; georel=near order ---------------------------------------------


async def test_service_path_is_no_attribute_for_q_but_a_builtin_for_attrs(client: TestClient) -> None:
    """Orion's q maps only dateCreated/dateModified to entity fields; servicePath is an attribute name."""
    r = await client.post("/v2/entities", json={"id": "E", "type": "T"}, headers={"Fiware-ServicePath": "/x"})
    assert r.status == 201
    r = await client.get("/v2/entities", params={"q": "servicePath==/x"})
    assert await r.json() == []
    assert await get_kv(client, "E", attrs="servicePath") == {"id": "E", "type": "T", "servicePath": "/x"}


async def test_q_list_with_null_is_refused_as_orion_list_item_add(client: TestClient) -> None:
    r = await client.get("/v2/entities", params={"q": "A:foo,null"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "invalid JSON value type in list"}


async def test_near_keeps_creation_order_unless_ordered_by_distance(client: TestClient) -> None:
    entities = [
        {"id": "far", "type": "P", "loc": {"type": "geo:point", "value": "43.05, 141.0"}},
        {"id": "near", "type": "P", "loc": {"type": "geo:point", "value": "43.001, 141.0"}},
    ]
    assert (await batch(client, {"actionType": "append", "entities": entities})).status == 204
    query = {"georel": "near;maxDistance:10000", "geometry": "point", "coords": "43.0,141.0", "attrs": "none"}
    r = await client.get("/v2/entities", params={**query, "options": "keyValues"})
    assert [e["id"] for e in await r.json()] == ["far", "near"]
    r = await client.get("/v2/entities", params={**query, "options": "keyValues", "orderBy": "geo:distance"})
    assert [e["id"] for e in await r.json()] == ["near", "far"]


# ---- /value and Accept ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [
        ("application/json;q=0.5, text/plain", 200, "text/plain"),
        ("text/plain;q=0.2, application/json", 200, "application/json"),
        ("text/plain, application/json;q=0", 200, "text/plain"),
        ("application/json", 200, "application/json"),
    ],
)
async def test_value_of_an_object_follows_the_highest_q(
    client: TestClient, accept: str, status: int, content_type: str
) -> None:
    assert (await client.post("/v2/entities", json={"id": "E", "o": {"value": {"k": 1}}})).status == 201
    r = await client.get("/v2/entities/E/attrs/o/value", headers={"Accept": accept})
    assert (r.status, r.headers["Content-Type"].split(";")[0], await r.text()) == (status, content_type, '{"k":1}')


async def test_value_of_a_string_refuses_json_only(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E", "s": {"value": "x"}})).status == 201
    r = await client.get("/v2/entities/E/attrs/s/value", headers={"Accept": "application/json"})
    assert r.status == 406
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == {"error": "NotAcceptable", "description": "accepted MIME types: text/plain"}


async def test_user_metadata_named_like_a_builtin_takes_its_place(client: TestClient) -> None:
    md = {"dateCreated": {"type": "DateTime", "value": "2000-01-01T00:00:00Z"}}
    assert (await client.post("/v2/entities", json={"id": "E", "a": {"value": 1, "metadata": md}})).status == 201
    r = await client.get("/v2/entities/E/attrs/a", params={"metadata": "dateCreated,dateModified"})
    body = await r.json()
    assert body["metadata"]["dateCreated"] == {"type": "DateTime", "value": "2000-01-01T00:00:00.000Z"}
    assert body["metadata"]["dateModified"]["value"].endswith("Z")


async def test_geo_distance_orders_only_as_the_whole_order_by(client: TestClient) -> None:
    """Orion compares orderBy with "geo:distance" as a whole; in a list it is a (missing) attribute."""
    entities = [
        {"id": "far", "type": "P", "n": {"value": 1}, "loc": {"type": "geo:point", "value": "43.05, 141.0"}},
        {"id": "near", "type": "P", "n": {"value": 1}, "loc": {"type": "geo:point", "value": "43.001, 141.0"}},
    ]
    assert (await batch(client, {"actionType": "append", "entities": entities})).status == 204
    query = {"georel": "near;maxDistance:10000", "geometry": "point", "coords": "43.0,141.0", "options": "keyValues"}
    for order_by in ("n,geo:distance", "!geo:distance", "geo:distance,n"):
        r = await client.get("/v2/entities", params={**query, "orderBy": order_by})
        assert [e["id"] for e in await r.json()] == ["far", "near"], order_by


# ---- order of checks on creation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (
            {"id": "", "a": {"value": "x<"}},
            "Invalid characters in attribute value",
        ),  # empty id checked after the members
        ({"id": "E" * 300, "a": {"value": 1, "x": 1}}, "unrecognized property for context attribute"),
        ({"id": "E" * 300, "type": "T"}, "entity id length: 300, max length supported: 256"),
        ({"id": "E", "type": "T" * 300, "a": 1}, "attribute must be a JSON object, unless keyValues option is used"),
        ({"type": "T<", "id": "E<"}, "Invalid characters in entity type"),
        ({"id": "E<", "type": ""}, "Invalid characters in entity id"),
        ({"id": "E", "type": ""}, "entity type length: 0, min length supported: 1"),
        ({"id": 3}, "Invalid JSON type for entity id"),
    ],
)
async def test_create_reports_the_error_orion_finds_first(
    client: TestClient, body: dict[str, Any], description: str
) -> None:
    r = await client.post("/v2/entities", json=body)
    assert r.status == 400
    assert (await r.json())["description"] == description.replace("<", "&lt;")


async def test_every_operator_in_one_creation(client: TestClient) -> None:
    """Orion's case 3814 several_operators_same_creation, rendered compactly (410 bytes there too)."""
    ops = {
        "A01": ({"$inc": 2}, "Number"),
        "A02": ({"$min": 0}, "Number"),
        "A03": ({"$max": 8}, "Number"),
        "A04": ({"$mul": 5}, "Number"),
        "A05": ({"$push": "bar"}, "StructuredValue"),
        "A06": ({"$addToSet": "foo"}, "StructuredValue"),
        "A07": ({"$pull": 2}, "StructuredValue"),
        "A08": ({"$pullAll": [2, 4]}, "StructuredValue"),
        "A09": ({"$set": {"Y": 20, "Z": 30}}, "StructuredValue"),
        "A10": ({"$unset": {"Y": 1}}, "StructuredValue"),
    }
    body = {"id": "E", "type": "T", **{k: {"value": v, "type": t} for k, (v, t) in ops.items()}}
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.get("/v2/entities/E")
    text = await r.text()
    assert await r.json() == {
        "id": "E",
        "type": "T",
        "A01": {"type": "Number", "value": 2, "metadata": {}},
        "A02": {"type": "Number", "value": 0, "metadata": {}},
        "A03": {"type": "Number", "value": 8, "metadata": {}},
        "A04": {"type": "Number", "value": 0, "metadata": {}},
        "A05": {"type": "StructuredValue", "value": ["bar"], "metadata": {}},
        "A06": {"type": "StructuredValue", "value": ["foo"], "metadata": {}},
        "A09": {"type": "StructuredValue", "value": {"Y": 20, "Z": 30}, "metadata": {}},
    }
    assert len(text) == 410


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/plain", "text/plain"),
        ("text/*", "text/plain"),
        ("text/plain, application/json", "application/json"),
        ("*/*", "application/json"),
    ],
)
async def test_value_errors_are_labelled_text_when_only_text_is_accepted(
    client: TestClient, accept: str, content_type: str
) -> None:
    """Orion's case 1887: the JSON error body goes out as text/plain to a text-only client."""
    r = await client.get("/v2/entities/Nope/attrs/a/value", headers={"Accept": accept})
    assert r.status == 404
    assert r.headers["Content-Type"] == content_type
    assert orjson.loads(await r.read()) == {
        "error": "NotFound",
        "description": "The requested entity has not been found. Check type and id",
    }
    r = await client.put(
        "/v2/entities/Nope/attrs/a/value", data="5", headers={"Accept": accept, "Content-Type": "text/plain"}
    )
    assert (r.status, r.headers["Content-Type"]) == (404, content_type)


# ---- transient entities ------------------------------------------------------------------------


async def test_date_expires_must_be_a_datetime_on_creation(client: TestClient) -> None:
    """Orion's processDateExpirationAtEntityCreation."""
    r = await client.post("/v2/entities", json={"id": "E", "dateExpires": {"value": "2099-01-01T00:00:00Z"}})
    assert r.status == 400
    assert await r.json() == {
        "error": "BadRequest",
        "description": "error processing date expiration attribute, see log traces",
    }
    assert (await client.get("/v2/entities/E")).status == 404
    body = {"id": "E", "dateExpires": {"type": "DateTime", "value": "2099-01-01T00:00:00Z"}}
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.put("/v2/entities/E/attrs", json={"dateExpires": {"value": "soon"}})
    assert r.status == 400


async def test_date_expires_update_refuses_only_a_non_date_number(client: TestClient) -> None:
    body = {"id": "E", "dateExpires": {"type": "DateTime", "value": "2099-01-01T00:00:00Z"}}
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await client.patch("/v2/entities/E/attrs", json={"dateExpires": {"value": 12}})
    assert r.status == 400
    assert (await r.json())["description"] == "error processing date expiration attribute, see log traces"
    r = await client.patch("/v2/entities/E/attrs", json={"dateExpires": {"value": "never"}})
    assert r.status == 204  # Orion clears the expiration
    assert await get_kv(client, "E", attrs="dateExpires") == {"id": "E", "type": "Thing", "dateExpires": "never"}


async def test_attributes_and_metadata_render_sorted_by_stored_name(client: TestClient) -> None:
    """Orion's ContextAttributeVector::fill walks a std::set of the stored names ('.' stored as '=')."""
    body = {
        "id": "E",
        "type": "T",
        "zeta": {"value": 1, "metadata": {"z": {"value": 1}, "a.b": {"value": 2}, "a": {"value": 3}}},
        "a.b": {"value": 2},
        "a": {"value": 3},
        "B": {"value": 4},
        "a_": {"value": 5},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    kv = await get_kv(client, "E")
    assert list(kv) == ["id", "type", "B", "a", "a.b", "a_", "zeta"]  # 'a=b' sorts before 'a_'
    r = await client.get("/v2/entities", params={"options": "values"})
    assert await r.json() == [[4, 3, 2, 5, 1]]
    r = await client.get("/v2/entities/E/attrs/zeta")
    assert list((await r.json())["metadata"]) == ["a", "a.b", "z"]


@pytest.mark.parametrize(
    ("attr", "description"),
    [
        # the attribute's own checks come before its metadata's (ContextAttribute::check)
        ({"value": "x<", "metadata": {"m": {"value": "y>"}}}, "Invalid characters in attribute value"),
        ({"value": 1, "type": "T<", "metadata": {"m<": {"value": 1}}}, "Invalid characters in attribute type"),
        # metadata JSON shapes are read while walking the members, before those checks
        ({"value": "x<", "metadata": {"m": 5}}, "metadata must be a JSON object"),
        (
            {"type": "DateTime", "value": "x", "metadata": {"m": {"type": "DateTime", "value": "y"}}},
            "date has invalid format",
        ),
        ({"foo": 1, "type": 5}, "unrecognized property for context attribute"),
        ({"type": 5, "foo": 1}, "invalid JSON type for attribute type"),
        ({"metadata": {"m": {"bad": 1, "type": 3}}}, "invalid JSON field for attribute metadata"),
    ],
)
async def test_attribute_errors_come_in_orion_order(client: TestClient, attr: dict[str, Any], description: str) -> None:
    r = await client.post("/v2/entities", json={"id": "E", "a": attr})
    assert r.status == 400
    assert (await r.json())["description"] == description
