"""`PATCH /v2/registrations/{id}`: not in Orion 4.x (405 there), ours after PATCH /v2/subscriptions.

Each top-level field given replaces the stored one with the checks of creation; `dataProvided` cannot
change; unknown fields are ignored; the forwarding counters written meanwhile stay.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from broker.http.services import SERVICES

BODY: dict[str, Any] = {
    "description": "Humidity source",
    "dataProvided": {"entities": [{"id": "E1", "type": "T"}], "attrs": ["humidity"]},
    "provider": {"http": {"url": "http://cp.example/v2"}, "supportedForwardingMode": "query", "legacyForwarding": True},
    "expires": "2040-01-01T00:00:00.000Z",
    "status": "inactive",
}
NOT_FOUND = {"error": "NotFound", "description": "The requested registration has not been found. Check id"}
UNKNOWN_ID = "5f1a2b3c4d5e6f7a8b9c0d01"


async def _create(client: TestClient, body: dict[str, Any] = BODY, **headers: str) -> str:
    r = await client.post("/v2/registrations", json=body, headers=headers)
    assert r.status == 201, await r.text()
    return r.headers["Location"]


async def _get(client: TestClient, location: str, **headers: str) -> dict[str, Any]:
    r = await client.get(location, headers=headers)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_patch_answers_204_without_body_and_changes_only_the_fields_given(client: TestClient) -> None:
    location = await _create(client)
    before = await _get(client, location)
    r = await client.patch(location, json={"status": "active", "description": "Moved source"})
    assert r.status == 204
    assert await r.read() == b"" and "Location" not in r.headers
    assert "Fiware-Correlator" in r.headers
    assert await _get(client, location) == {**before, "status": "active", "description": "Moved source"}


async def test_patch_of_provider_replaces_the_whole_provider_with_creation_defaults(client: TestClient) -> None:
    location = await _create(client)
    r = await client.patch(location, json={"provider": {"http": {"url": "https://other.example:8443/ngsi/"}}})
    assert r.status == 204
    assert (await _get(client, location))["provider"] == {
        "http": {"url": "https://other.example:8443/ngsi/"},  # kept verbatim, trailing slash too
        "supportedForwardingMode": "all",
        "legacyForwarding": False,
    }
    r = await client.patch(
        location, json={"provider": {"http": {"url": "http://x.example"}, "supportedForwardingMode": "update"}}
    )
    assert r.status == 204
    assert (await _get(client, location))["provider"]["supportedForwardingMode"] == "update"


async def test_patch_with_empty_expires_and_description_makes_it_permanent_and_bare(client: TestClient) -> None:
    location = await _create(client)
    r = await client.patch(location, json={"expires": "", "description": ""})
    assert r.status == 204
    shown = await _get(client, location)
    assert "expires" not in shown and "description" not in shown
    r = await client.patch(location, json={"expires": "2041-02-03T04:05:06Z"})
    assert r.status == 204
    assert (await _get(client, location))["expires"] == "2041-02-03T04:05:06.00Z"


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({}, "empty payload"),
        ([], "not a JSON object"),
        ({"description": 1}, "invalid description"),
        ({"description": "x" * 1025}, "max description length exceeded"),
        ({"description": "a<b"}, "forbidden characters in description"),
        ({"dataProvided": {"attrs": ["a"]}}, "the field /dataProvided/ cannot be modified"),
        ({"provider": {}}, "/provider/ empty"),
        ({"provider": {"supportedForwardingMode": "all"}}, "/provider/ must contain a field /http/"),
        ({"provider": {"http": {"url": "ftp://cp.example"}}}, "/url/ field of /http/ is invalid"),
        ({"provider": {"http": {"url": ""}}}, "/url/ field of /http/ cannot be the empty string"),
        (
            {"provider": {"http": {"url": "http://a.example"}, "supportedForwardingMode": "sometimes"}},
            "invalid value of /supportedForwardingMode/",
        ),
        (
            {"provider": {"http": {"url": "http://a.example"}, "legacyForwarding": "yes"}},
            "the field /legacyForwarding/ must be a boolean",
        ),
        ({"expires": 5}, "expires is not a string"),
        ({"expires": "tomorrow"}, "the field /expires/ has an invalid format"),
        ({"status": "expired"}, "invalid value for /status/"),
        ({"status": None}, "/status/ must be a string"),
        # a valid field beside a bad one: nothing of it is stored
        ({"description": "fine", "status": "failed"}, "invalid value for /status/"),
    ],
)
async def test_bad_patch_is_400_with_the_creation_text_and_changes_nothing(
    client: TestClient, body: Any, description: str
) -> None:
    location = await _create(client)
    before = await _get(client, location)
    r = await client.patch(location, json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}
    assert await _get(client, location) == before


async def test_patch_with_broken_json_is_400_as_at_creation(client: TestClient) -> None:
    location = await _create(client)
    r = await client.patch(location, data=b'{"status":', headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Errors found in incoming JSON buffer"}


async def test_patch_with_a_non_json_content_type_is_415(client: TestClient) -> None:
    location = await _create(client)
    r = await client.patch(location, data=b"status=active", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert (await r.json())["error"] == "UnsupportedMediaType"
    assert (await _get(client, location))["status"] == "inactive"


async def test_patch_ignores_unknown_fields_as_creation_does(client: TestClient) -> None:
    location = await _create(client)
    before = await _get(client, location)
    r = await client.patch(
        location, json={"status": "active", "id": "other", "forwardingInformation": {"timesSent": 9}}
    )
    assert r.status == 204
    assert await _get(client, location) == {**before, "status": "active"}


async def test_patch_of_an_unknown_registration_is_404(client: TestClient) -> None:
    for reg_id in (UNKNOWN_ID, "not-an-object-id"):
        r = await client.patch(f"/v2/registrations/{reg_id}", json={"status": "active"})
        assert r.status == 404
        assert await r.json() == NOT_FOUND
    assert await (await client.get("/v2/registrations")).json() == []


async def test_a_bad_body_is_400_before_the_id_is_looked_up(client: TestClient) -> None:
    r = await client.patch(f"/v2/registrations/{UNKNOWN_ID}", json={"status": "gone"})
    assert r.status == 400 and (await r.json())["description"] == "invalid value for /status/"


async def test_patch_reaches_only_the_tenants_own_registration_whatever_the_service_path(
    client: TestClient,
) -> None:
    location = await _create(client, **{"Fiware-Service": "city", "Fiware-ServicePath": "/a"})
    r = await client.patch(location, json={"status": "active"})  # the default tenant has none such
    assert r.status == 404 and await r.json() == NOT_FOUND
    # like GET and DELETE by id, PATCH does not look at the service path
    r = await client.patch(
        location, json={"status": "active"}, headers={"Fiware-Service": "city", "Fiware-ServicePath": "/b"}
    )
    assert r.status == 204
    assert (await _get(client, location, **{"Fiware-Service": "city"}))["status"] == "active"


async def test_patch_keeps_the_forwarding_counters(client: TestClient) -> None:
    location = await _create(client)
    reg_id = location.rsplit("/", 1)[1]
    storage = client.app[SERVICES].registrations.storage
    await storage.record_forwarding("", reg_id, ok=True, at=1700000000.0)
    r = await client.patch(location, json={"provider": {"http": {"url": "http://new.example/v2"}}})
    assert r.status == 204
    await storage.record_forwarding("", reg_id, ok=False, at=1700000001.0)
    shown = await _get(client, location)
    assert shown["provider"]["http"]["url"] == "http://new.example/v2"
    assert shown["forwardingInformation"] == {
        "timesSent": 2,
        "lastSuccess": "2023-11-14T22:13:20.000Z",
        "lastFailure": "2023-11-14T22:13:21.000Z",
        "lastForwarding": "2023-11-14T22:13:21.000Z",
    }


async def test_other_verbs_are_405_naming_get_delete_and_patch(client: TestClient) -> None:
    location = await _create(client)
    for method in ("PUT", "POST", "COPY"):
        r = await client.request(method, location, json={"status": "active"})
        assert r.status == 405
        assert r.headers["Allow"] == "GET, DELETE, PATCH"
        assert await r.json() == {"error": "MethodNotAllowed", "description": "method not allowed"}
    assert (await _get(client, location))["status"] == "inactive"


async def test_cors_preflight_and_405_name_patch_too(cors_client: TestClient) -> None:
    r = await cors_client.options(f"/v2/registrations/{UNKNOWN_ID}", headers={"Origin": "http://example.org"})
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Methods"] == "GET, DELETE, PATCH, OPTIONS"
    r = await cors_client.put(f"/v2/registrations/{UNKNOWN_ID}", json={}, headers={"Origin": "http://example.org"})
    assert r.status == 405 and r.headers["Allow"] == "GET, DELETE, PATCH, OPTIONS"


async def test_patch_back_of_the_registration_as_read_is_accepted_with_its_unchanged_data_provided(
    client: TestClient,
) -> None:
    # what FiLiP's update_registration sends: the whole registration it read, edited
    location = await _create(client)
    shown = await _get(client, location)
    body = {k: v for k, v in shown.items() if k != "id"}
    body["description"] = "Edited"
    r = await client.patch(location, json=body)
    assert r.status == 204, await r.text()
    assert await _get(client, location) == {**shown, "description": "Edited"}


@pytest.mark.parametrize(
    "data_provided",
    [
        {"entities": [{"id": "E2", "type": "T"}], "attrs": ["humidity"]},
        {"entities": [{"id": "E1", "type": "T"}], "attrs": ["humidity", "temperature"]},
        {"entities": [{"id": "E1"}], "attrs": ["humidity"]},
    ],
)
async def test_patch_with_a_different_data_provided_is_400_and_changes_nothing(
    client: TestClient, data_provided: dict[str, Any]
) -> None:
    location = await _create(client)
    before = await _get(client, location)
    r = await client.patch(location, json={"description": "Edited", "dataProvided": data_provided})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "the field /dataProvided/ cannot be modified"}
    assert await _get(client, location) == before


async def test_patch_with_data_provided_of_an_unknown_registration_is_404(client: TestClient) -> None:
    r = await client.patch(f"/v2/registrations/{UNKNOWN_ID}", json={"dataProvided": BODY["dataProvided"]})
    assert r.status == 404
    assert await r.json() == NOT_FOUND


async def test_patch_with_a_malformed_data_provided_is_400_with_the_creation_text(client: TestClient) -> None:
    location = await _create(client)
    r = await client.patch(location, json={"dataProvided": {}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "/dataProvided/ is empty"}
