"""`/v2/registrations`: Orion 4.x's create, list, retrieve and delete, statuses, headers and bodies (PATCH,
ours, in tests/registrations/test_patch.py)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

HUMIDITY: dict[str, Any] = {
    "description": "Relative Humidity Context Source",
    "dataProvided": {"entities": [{"id": "E1", "type": "T1"}, {"id": "E2", "type": "T2"}], "attrs": ["A1", "A2"]},
    "provider": {"http": {"url": "http://localhost:9801/v2"}, "legacyForwarding": True},
    "status": "inactive",
}


async def _create(client: TestClient, body: dict[str, Any], **headers: str) -> str:
    r = await client.post("/v2/registrations", json=body, headers=headers)
    assert r.status == 201, await r.text()
    return r.headers["Location"]


async def test_create_returns_201_with_location_and_no_body(client: TestClient) -> None:
    r = await client.post("/v2/registrations", json=HUMIDITY)
    assert r.status == 201
    assert re.fullmatch(r"/v2/registrations/[0-9a-f]{24}", r.headers["Location"])
    assert r.headers["Content-Length"] == "0" and await r.read() == b""
    assert "Fiware-Correlator" in r.headers


async def test_retrieve_renders_orions_fields_in_orions_order(client: TestClient) -> None:
    location = await _create(client, HUMIDITY)
    r = await client.get(location)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    text = await r.text()
    reg_id = location.rsplit("/", 1)[1]
    assert text == (
        '{"id":"' + reg_id + '","description":"Relative Humidity Context Source","dataProvided":{"entities":'
        '[{"id":"E1","type":"T1"},{"id":"E2","type":"T2"}],"attrs":["A1","A2"]},"provider":{"http":'
        '{"url":"http://localhost:9801/v2"},"supportedForwardingMode":"all","legacyForwarding":true},'
        '"status":"inactive"}'
    )
    assert len(text) == 311  # Orion's v2_reg_create test answers Content-Length: 311


async def test_defaults_expires_and_idpattern_are_rendered_as_orion_does(client: TestClient) -> None:
    location = await _create(
        client,
        {
            "dataProvided": {"entities": [{"idPattern": ".*", "type": "Car"}]},
            "provider": {"http": {"url": "http://cp.example/v2"}, "supportedForwardingMode": "update"},
            "expires": "2040-05-06T07:08:09.999Z",
        },
    )
    body = await (await client.get(location)).json()
    assert body == {
        "id": location.rsplit("/", 1)[1],
        "expires": "2040-05-06T07:08:09.00Z",
        "dataProvided": {"entities": [{"idPattern": ".*", "type": "Car"}], "attrs": []},
        "provider": {
            "http": {"url": "http://cp.example/v2"},
            "supportedForwardingMode": "update",
            "legacyForwarding": False,
        },
        "status": "active",
    }


async def test_list_is_in_creation_order_paged_and_counted(client: TestClient) -> None:
    ids = []
    for n in range(3):
        body = {**HUMIDITY, "description": f"source {n}"}
        ids.append((await _create(client, body)).rsplit("/", 1)[1])
    r = await client.get("/v2/registrations?options=count&limit=2&offset=1")
    assert r.status == 200 and r.headers["Fiware-Total-Count"] == "3"
    assert [reg["id"] for reg in await r.json()] == ids[1:]
    r = await client.get("/v2/registrations")
    assert "Fiware-Total-Count" not in r.headers and [reg["id"] for reg in await r.json()] == ids


async def test_list_with_a_service_path_shows_only_that_path(client: TestClient) -> None:
    root = (await _create(client, HUMIDITY)).rsplit("/", 1)[1]
    parks = (await _create(client, HUMIDITY, **{"Fiware-ServicePath": "/parks"})).rsplit("/", 1)[1]

    async def listed(path: str | None) -> list[str]:
        headers = {"Fiware-ServicePath": path} if path else {}
        return [reg["id"] for reg in await (await client.get("/v2/registrations", headers=headers)).json()]

    assert await listed(None) == [root, parks]
    assert await listed("/#") == [root, parks]
    assert await listed("/parks") == [parks]
    assert await listed("/") == [root]
    assert await listed("/streets") == []
    r = await client.get(f"/v2/registrations/{parks}", headers={"Fiware-ServicePath": "/streets"})
    assert r.status == 200  # retrieval ignores the service path, as in Orion


async def test_registrations_belong_to_their_tenant(client: TestClient) -> None:
    location = await _create(client, HUMIDITY, **{"Fiware-Service": "city"})
    assert (await client.get(location)).status == 404
    assert (await client.get(location, headers={"Fiware-Service": "city"})).status == 200
    assert await (await client.get("/v2/registrations")).json() == []


async def test_delete_returns_204_then_404(client: TestClient) -> None:
    location = await _create(client, HUMIDITY)
    r = await client.delete(location)
    assert r.status == 204 and await r.read() == b""
    for call in (client.get, client.delete):
        r = await call(location)
        assert r.status == 404
        assert await r.json() == {
            "error": "NotFound",
            "description": "The requested registration has not been found. Check id",
        }


async def test_an_id_that_is_not_an_objectid_is_404(client: TestClient) -> None:
    r = await client.get("/v2/registrations/testtesttesttesttesttest")
    assert r.status == 404
    assert (await r.json())["description"] == "The requested registration has not been found. Check id"


async def test_put_is_405_naming_get_delete_and_patch_and_changes_nothing(client: TestClient) -> None:
    """Orion 4.x answers PATCH too with 405 (`Allow: GET, DELETE`); ours serves PATCH (tests/registrations)."""
    location = await _create(client, HUMIDITY)
    before = await (await client.get(location)).json()
    r = await client.put(location, json={"description": "changed"})
    assert r.status == 405 and r.headers["Allow"] == "GET, DELETE, PATCH"
    assert await r.json() == {"error": "MethodNotAllowed", "description": "method not allowed"}
    assert await (await client.get(location)).json() == before


async def test_bad_input_is_400_and_stores_nothing(client: TestClient) -> None:
    for body, description in [
        ({"provider": {"http": {"url": "http://x"}}}, "the field /dataProvided/ is missing in payload"),
        (
            {"dataProvided": {"attrs": ["A"]}, "provider": {"http": {"url": "ftp://x"}}},  # mqtt:// Orion takes
            "/url/ field of /http/ is invalid",
        ),
        ({**HUMIDITY, "status": "expired"}, "invalid value for /status/"),
    ]:
        r = await client.post("/v2/registrations", json=body)
        assert r.status == 400
        assert await r.json() == {"error": "BadRequest", "description": description}
    r = await client.post("/v2/registrations", data=b"{", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Errors found in incoming JSON buffer"}
    r = await client.post("/v2/registrations", json={**HUMIDITY, "dataProvided": {"entities": [{"idPattern": "E.*"}]}})
    assert r.status == 501 and (await r.json())["error"] == "NotImplemented"
    assert await (await client.get("/v2/registrations")).json() == []
