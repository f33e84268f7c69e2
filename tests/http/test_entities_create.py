"""POST /v2/entities: creation in normalized and keyValues forms, Location, conflicts and upsert."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

JSON = "application/json"


async def create(client: TestClient, body: Any, **params: str) -> Any:
    return await client.post("/v2/entities", json=body, params=params or None)


async def get_json(client: TestClient, path: str, **params: str) -> Any:
    r = await client.get(path, params=params or None)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_create_normalized_returns_201_location_and_empty_body(client: TestClient) -> None:
    r = await create(client, {"id": "Room1", "type": "Room", "temperature": {"value": 23, "type": "Float"}})
    assert r.status == 201
    assert r.headers["Location"] == "/v2/entities/Room1?type=Room"
    assert r.headers["Content-Length"] == "0"
    assert "Server" not in r.headers
    assert r.headers["Fiware-Correlator"]
    assert await r.read() == b""


async def test_create_headers_come_in_orion_order(client: TestClient) -> None:
    r = await create(client, {"id": "Room1", "type": "Room"})
    assert list(r.headers.keys())[:3] == ["Date", "Fiware-Correlator", "Location"]


async def test_created_entity_is_rendered_with_default_attribute_types_and_empty_metadata(client: TestClient) -> None:
    body = {
        "id": "E",
        "type": "T",
        "t": {"value": "x"},
        "n": {"value": 1.5},
        "b": {"value": True},
        "o": {"value": {"k": [1, 2]}},
        "l": {"value": [1, "a"]},
        "z": {"value": None},
        "missing": {},
    }
    assert (await create(client, body)).status == 201
    assert await get_json(client, "/v2/entities/E") == {
        "id": "E",
        "type": "T",
        "t": {"type": "Text", "value": "x", "metadata": {}},
        "n": {"type": "Number", "value": 1.5, "metadata": {}},
        "b": {"type": "Boolean", "value": True, "metadata": {}},
        "o": {"type": "StructuredValue", "value": {"k": [1, 2]}, "metadata": {}},
        "l": {"type": "StructuredValue", "value": [1, "a"], "metadata": {}},
        "z": {"type": "None", "value": None, "metadata": {}},
        "missing": {"type": "None", "value": None, "metadata": {}},
    }


async def test_create_without_type_defaults_to_thing(client: TestClient) -> None:
    r = await create(client, {"id": "E1"})
    assert r.status == 201
    assert r.headers["Location"] == "/v2/entities/E1?type=Thing"
    assert await get_json(client, "/v2/entities/E1") == {"id": "E1", "type": "Thing"}


async def test_create_key_values_derives_types_from_values(client: TestClient) -> None:
    r = await create(
        client,
        {"id": "E", "type": "T", "s": "hi", "n": 3, "b": False, "o": {"value": 1, "type": "X"}, "z": None},
        options="keyValues",
    )
    assert r.status == 201
    assert await get_json(client, "/v2/entities/E") == {
        "id": "E",
        "type": "T",
        "s": {"type": "Text", "value": "hi", "metadata": {}},
        "n": {"type": "Number", "value": 3, "metadata": {}},
        "b": {"type": "Boolean", "value": False, "metadata": {}},
        # in keyValues mode an object is always a compound value, never `{value, type}`
        "o": {"type": "StructuredValue", "value": {"value": 1, "type": "X"}, "metadata": {}},
        "z": {"type": "None", "value": None, "metadata": {}},
    }


async def test_create_renders_attributes_and_metadata_sorted_by_name(client: TestClient) -> None:
    """Orion reads a document's field names into a std::set: attributes and metadata come sorted."""
    body = {
        "id": "E",
        "type": "T",
        "b": {"value": 1, "metadata": {"unit": {"value": "C"}, "acc": {"type": "Number", "value": 0.5}}},
        "a": {"value": 2, "type": "Int"},
    }
    assert (await create(client, body)).status == 201
    assert await get_json(client, "/v2/entities/E") == {
        "id": "E",
        "type": "T",
        "b": {
            "type": "Number",
            "value": 1,
            "metadata": {"unit": {"type": "Text", "value": "C"}, "acc": {"type": "Number", "value": 0.5}},
        },
        "a": {"type": "Int", "value": 2, "metadata": {}},
    }
    raw = await (await client.get("/v2/entities/E")).text()
    assert raw.index('"a"') < raw.index('"b"')
    assert raw.index('"acc"') < raw.index('"unit"')
    assert " " not in raw  # compact JSON


async def test_create_existing_entity_returns_422_already_exists_and_keeps_original(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "type": "T", "a": {"value": 1}})).status == 201
    r = await create(client, {"id": "E", "type": "T", "a": {"value": 2}, "b": {"value": 3}})
    assert r.status == 422
    assert r.headers["Content-Type"] == JSON
    assert await r.json() == {"error": "Unprocessable", "description": "Already Exists"}
    assert await get_json(client, "/v2/entities/E") == {
        "id": "E",
        "type": "T",
        "a": {"type": "Number", "value": 1, "metadata": {}},
    }


async def test_same_id_with_another_type_is_a_different_entity(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "type": "T1"})).status == 201
    r = await create(client, {"id": "E", "type": "T2"})
    assert r.status == 201
    assert r.headers["Location"] == "/v2/entities/E?type=T2"


async def test_same_id_and_type_in_other_service_path_is_a_different_entity(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "type": "T"})).status == 201
    r = await client.post("/v2/entities", json={"id": "E", "type": "T"}, headers={"Fiware-ServicePath": "/x"})
    assert r.status == 201


async def test_upsert_creates_then_updates_both_with_204_and_location(client: TestClient) -> None:
    r = await create(client, {"id": "E", "type": "T", "a": {"value": 1}}, options="upsert")
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/E?type=T"
    assert await r.read() == b""
    r = await create(client, {"id": "E", "type": "T", "a": {"value": 5}, "b": {"value": "x"}}, options="upsert")
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/E?type=T"
    assert await r.read() == b""
    assert await get_json(client, "/v2/entities/E") == {
        "id": "E",
        "type": "T",
        "a": {"type": "Number", "value": 5, "metadata": {}},
        "b": {"type": "Text", "value": "x", "metadata": {}},
    }


async def test_upsert_keeps_attributes_absent_from_the_request(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "type": "T", "a": {"value": 1}, "b": {"value": 2}})).status == 201
    r = await create(client, {"id": "E", "type": "T", "b": {"value": 3}}, options="upsert")
    assert r.status == 204
    assert await get_json(client, "/v2/entities/E", options="keyValues") == {"id": "E", "type": "T", "a": 1, "b": 3}


async def test_upsert_with_key_values(client: TestClient) -> None:
    r = await create(client, {"id": "E", "a": 1}, options="upsert,keyValues")
    assert r.status == 204
    r = await create(client, {"id": "E", "a": 2}, options="keyValues,upsert")
    assert r.status == 204
    assert await get_json(client, "/v2/entities/E", options="keyValues") == {"id": "E", "type": "Thing", "a": 2}


async def test_upsert_of_a_new_entity_answers_204_with_location_and_creates_it(client: TestClient) -> None:
    r = await create(client, {"id": "Dev1", "type": "Device", "t": {"type": "Number", "value": 21}}, options="upsert")
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/Dev1?type=Device"
    assert "Content-Type" not in r.headers
    assert await r.read() == b""
    assert await get_json(client, "/v2/entities/Dev1", options="keyValues") == {"id": "Dev1", "type": "Device", "t": 21}


async def test_upsert_headers_come_in_orion_order(client: TestClient) -> None:
    for _ in range(2):  # new entity, then existing entity
        r = await create(client, {"id": "E", "type": "T"}, options="upsert")
        assert r.status == 204
        assert list(r.headers.keys())[:3] == ["Date", "Fiware-Correlator", "Location"]


async def test_upsert_without_type_locates_the_default_type(client: TestClient) -> None:
    r = await create(client, {"id": "E", "a": {"value": 1}}, options="upsert")
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/E?type=Thing"


async def test_upsert_with_another_option_still_answers_204(client: TestClient) -> None:
    r = await create(client, {"id": "E", "type": "T", "a": {"value": 1}}, options="upsert,flowControl")
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/E?type=T"


async def test_upsert_in_another_service_path_creates_a_separate_entity(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "type": "T", "a": {"value": 1}})).status == 201
    r = await client.post(
        "/v2/entities",
        params={"options": "upsert"},
        json={"id": "E", "type": "T", "a": {"value": 2}},
        headers={"Fiware-ServicePath": "/x"},
    )
    assert r.status == 204
    assert r.headers["Location"] == "/v2/entities/E?type=T"
    r = await client.get("/v2/entities", params={"options": "keyValues"}, headers={"Fiware-ServicePath": "/#"})
    assert sorted(e["a"] for e in await r.json()) == [1, 2]


async def test_upsert_with_invalid_body_answers_400_and_creates_nothing(client: TestClient) -> None:
    r = await create(client, {"id": "E", "type": "T", "a": {"value": "<bad>"}}, options="upsert")
    assert r.status == 400
    assert "Location" not in r.headers
    r = await client.get("/v2/entities")
    assert await r.json() == []


async def test_plain_create_still_answers_201(client: TestClient) -> None:
    r = await create(client, {"id": "E", "type": "T"}, options="keyValues")
    assert r.status == 201
    assert r.headers["Location"] == "/v2/entities/E?type=T"


async def test_creation_sets_builtin_dates_equal(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "a": {"value": 1}})).status == 201
    body = await get_json(client, "/v2/entities/E", attrs="dateCreated,dateModified")
    assert set(body) == {"id", "type", "dateCreated", "dateModified"}
    assert body["dateCreated"]["type"] == "DateTime"
    assert body["dateCreated"]["value"] == body["dateModified"]["value"]
    assert body["dateCreated"]["value"].endswith("Z")


async def test_create_with_charset_in_content_type_is_accepted(client: TestClient) -> None:
    r = await client.post(
        "/v2/entities", data=b'{"id":"E"}', headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert r.status == 201


async def test_create_accepts_non_ascii_in_string_values(client: TestClient) -> None:
    assert (await create(client, {"id": "E", "name": {"value": "Zürich €"}})).status == 201
    raw = await (await client.get("/v2/entities/E", params={"options": "keyValues"})).read()
    assert raw == '{"id":"E","type":"Thing","name":"Zürich €"}'.encode()


async def test_create_number_rendering_follows_orion(client: TestClient) -> None:
    body = {"id": "E", "two": {"value": 2.0}, "third": {"value": 1 / 3}, "neg": {"value": -0.5}, "big": {"value": 1e15}}
    assert (await create(client, body)).status == 201
    raw = await (await client.get("/v2/entities/E", params={"options": "keyValues"})).text()
    assert raw == '{"id":"E","type":"Thing","big":1000000000000000,"neg":-0.5,"third":0.333333333,"two":2}'


async def test_create_with_long_but_valid_identifiers(client: TestClient) -> None:
    eid, etype, attr = "i" * 256, "t" * 256, "a" * 256
    r = await create(client, {"id": eid, "type": etype, attr: {"value": 1, "type": "y" * 256}})
    assert r.status == 201
    assert r.headers["Location"] == f"/v2/entities/{eid}?type={etype}"
    assert (await get_json(client, f"/v2/entities/{eid}"))[attr]["type"] == "y" * 256


async def test_create_allows_identifier_punctuation_orion_allows(client: TestClient) -> None:
    eid = "urn:ngsi-ld:Car:001.a_b+c@d!e$f%g*h,i[j]k{l}m|n~o^p`q"
    r = await client.post("/v2/entities", json={"id": eid, "type": "T"})
    assert r.status == 201
    listed = await get_json(client, "/v2/entities", options="keyValues")
    assert listed == [{"id": eid, "type": "T"}]


async def test_create_text_unrestricted_allows_forbidden_characters_in_value(client: TestClient) -> None:
    body = {"id": "E", "html": {"type": "TextUnrestricted", "value": "<b>'x'=(1);</b>"}}
    assert (await create(client, body)).status == 201
    assert (await get_json(client, "/v2/entities/E"))["html"]["value"] == "<b>'x'=(1);</b>"


async def test_create_compound_keys_may_hold_forbidden_characters(client: TestClient) -> None:
    body = {"id": "E", "o": {"value": {"a=b": 1, "(k)": [2]}}}
    assert (await create(client, body)).status == 201
    assert (await get_json(client, "/v2/entities/E/attrs/o"))["value"] == {"a=b": 1, "(k)": [2]}


async def test_create_with_datetime_attribute_renders_utc_with_millis(client: TestClient) -> None:
    body = {"id": "E", "d": {"type": "DateTime", "value": "2018-01-05T11:00:00+01:00"}}
    assert (await create(client, body)).status == 201
    assert (await get_json(client, "/v2/entities/E"))["d"] == {
        "type": "DateTime",
        "value": "2018-01-05T10:00:00.000Z",
        "metadata": {},
    }


async def test_entity_created_in_trailing_slash_collection(client: TestClient) -> None:
    r = await client.post("/v2/entities/", json={"id": "E"})
    assert r.status == 201
    assert r.headers["Location"] == "/v2/entities/E?type=Thing"


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("2017-06-17", "2017-06-17T00:00:00.000Z"),
        ("2017-06-17T07:21:24.238Z", "2017-06-17T07:21:24.238Z"),
        ("2017-06-17T07:21:24.238", "2017-06-17T07:21:24.238Z"),
        ("2017-06-17T07:21:24", "2017-06-17T07:21:24.000Z"),
        ("2017-06-17T07:21", "2017-06-17T07:21:00.000Z"),
        ("2017-06-17T07", "2017-06-17T07:00:00.000Z"),
        ("2017-06-17T07:21:24+02:00", "2017-06-17T05:21:24.000Z"),
        ("2017-06-17T07:21:24+0200", "2017-06-17T05:21:24.000Z"),
        ("2017-06-17T07:21:24+02", "2017-06-17T05:21:24.000Z"),
        ("2017-06-17T07:21:24-03:30", "2017-06-17T10:51:24.000Z"),
        ("2017-06-17T23:30:00-01:00", "2017-06-18T00:30:00.000Z"),
        ("2016-02-29T12:00:00.5Z", "2016-02-29T12:00:00.500Z"),
        ("2017-06-17T072124.238Z", "2017-06-17T07:21:24.238Z"),
        ("2017-06-17T072124", "2017-06-17T07:21:24.000Z"),
        ("2017-06-17T0721", "2017-06-17T07:21:00.000Z"),
    ],
)
async def test_datetime_values_are_parsed_and_rendered_in_utc(client: TestClient, text: str, rendered: str) -> None:
    body = {
        "id": "E",
        "d": {"type": "DateTime", "value": text, "metadata": {"when": {"type": "DateTime", "value": text}}},
        "i": {"type": "ISO8601", "value": text},
    }
    r = await create(client, body)
    assert r.status == 201, await r.text()
    entity = await get_json(client, "/v2/entities/E")
    assert entity["d"] == {
        "type": "DateTime",
        "value": rendered,
        "metadata": {"when": {"type": "DateTime", "value": rendered}},
    }
    assert entity["i"] == {"type": "ISO8601", "value": rendered, "metadata": {}}
    assert await get_json(client, "/v2/entities/E", options="keyValues", attrs="d") == {
        "id": "E",
        "type": "Thing",
        "d": rendered,
    }


@pytest.mark.parametrize(
    "text",
    [
        "2017-06-17Z",
        "2017-13-01",
        "2017-02-30",
        "17-06-17",
        "2017-06-17T25:00:00",
        "2017/06/17",
        "",
        "now",
        "2017-06-17T07:21:24+25:00",
        "2017-06-17 07:21:24",
    ],
)
async def test_invalid_datetime_is_rejected(client: TestClient, text: str) -> None:
    r = await create(client, {"id": "E", "d": {"type": "DateTime", "value": text}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "date has invalid format"}
    assert await get_json(client, "/v2/entities") == []


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (2.0, "2"),
        (1 / 3, "0.333333333"),
        (-2 / 3, "-0.666666667"),
        (0.1 + 0.2, "0.3"),
        (1.5, "1.5"),
        (100, "100"),
        (123456.7891234567, "123456.789123457"),
    ],
)
async def test_numbers_are_rendered_like_orion(client: TestClient, value: float, rendered: str) -> None:
    assert (await create(client, {"id": "E", "n": {"value": value, "metadata": {"m": {"value": value}}}})).status == 201
    raw = await (await client.get("/v2/entities/E/attrs/n")).text()
    assert raw == f'{{"type":"Number","value":{rendered},"metadata":{{"m":{{"type":"Number","value":{rendered}}}}}}}'
    r = await client.get("/v2/entities/E/attrs/n/value")
    assert await r.text() == rendered


# ---- transient entities (dateExpires) --------------------------------------------------------


async def test_date_expires_is_shown_only_when_asked_for_as_a_builtin(client) -> None:
    body = {
        "id": "t1",
        "type": "Ticket",
        "n": {"value": 1},
        "dateExpires": {"value": "2099-07-07T21:35:00Z", "type": "DateTime"},
    }
    assert (await client.post("/v2/entities", json=body)).status == 201
    assert await (await client.get("/v2/entities/t1?options=keyValues")).json() == {
        "id": "t1",
        "type": "Ticket",
        "n": 1,
    }
    assert await (await client.get("/v2/entities/t1?options=keyValues&attrs=*")).json() == {
        "id": "t1",
        "type": "Ticket",
        "n": 1,
    }
    assert await (await client.get("/v2/entities/t1?options=keyValues&attrs=dateExpires")).json() == {
        "id": "t1",
        "type": "Ticket",
        "dateExpires": "2099-07-07T21:35:00.000Z",
    }
    assert await (await client.get("/v2/entities/t1?options=keyValues&attrs=*,dateExpires")).json() == {
        "id": "t1",
        "type": "Ticket",
        "n": 1,
        "dateExpires": "2099-07-07T21:35:00.000Z",
    }
    r = await client.get("/v2/entities/t1/attrs/dateExpires/value", headers={"Accept": "text/plain"})
    assert (r.status, await r.text()) == (200, "2099-07-07T21:35:00.000Z")


async def test_a_bad_date_expires_is_400_and_stores_nothing(client) -> None:
    body = {"id": "t1", "type": "Ticket", "dateExpires": {"value": "tomorrow", "type": "DateTime"}}
    r = await client.post("/v2/entities", json=body)
    assert r.status == 400 and (await r.json())["error"] == "BadRequest"
    assert (await client.get("/v2/entities/t1")).status == 404


async def test_an_expired_entity_is_deleted_and_one_whose_expiry_was_removed_stays(client) -> None:
    import asyncio

    past = {"value": "2020-01-01T00:00:00Z", "type": "DateTime"}
    assert (await client.post("/v2/entities", json={"id": "gone", "type": "Ticket", "dateExpires": past})).status == 201
    soon = {"value": "2099-01-01T00:00:00Z", "type": "DateTime"}
    assert (await client.post("/v2/entities", json={"id": "kept", "type": "Ticket", "dateExpires": soon})).status == 201
    assert (await client.delete("/v2/entities/kept/attrs/dateExpires")).status == 204  # now a regular entity
    for _ in range(60):  # the sweep runs every second (Orion's TTL monitor: every 60 s)
        if (await client.get("/v2/entities/gone")).status == 404:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/v2/entities/gone")).status == 404
    assert [e["id"] for e in await (await client.get("/v2/entities")).json()] == ["kept"]
