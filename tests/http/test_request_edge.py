"""The request edge in Orion's order: what is refused before any route or use case runs.

Orion's order (rest.cpp connectionTreat): payload size, URL characters, service path, content type,
content length, URI parameters, Accept, Content-Type on GET/DELETE; then verb, tenant, payload, handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage

LISTS = ["/v2/entities", "/v2/types", "/v2/subscriptions", "/v2/registrations", "/personal/v1/consents"]
LENGTH_REQUIRED = {"error": "ContentLengthRequired", "description": "Zero/No Content-Length in PUT/POST/PATCH request"}


def bad(description: str) -> dict[str, str]:
    return {"error": "BadRequest", "description": description}


async def entity_ids(client: TestClient) -> list[str]:
    r = await client.get("/v2/entities")
    assert r.status == 200
    return [e["id"] for e in await r.json()]


@pytest.fixture
async def single(tmp_path: Path) -> AsyncIterator[TestClient]:
    """A broker started without -multiservice (the command line's default)."""
    app = build_app(SqliteStorage(str(tmp_path / "single.db")), HttpSettings(multiservice=False))
    async with TestClient(TestServer(app)) as c:
        yield c


# ---- limit and offset: one check at the edge, for every list ------------------------------------


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"offset": "9223372036854775808"}, "Bad pagination offset: /9223372036854775808/ [max: 2147483647]"),
        ({"offset": "2147483648"}, "Bad pagination offset: /2147483648/ [max: 2147483647]"),
        ({"offset": "1e20"}, "Bad pagination offset: /1e20/ [must be a decimal number]"),
        ({"offset": "²"}, "Bad pagination offset: /²/ [must be a decimal number]"),
        ({"offset": "-1"}, "Bad pagination offset: /-1/ [must be a decimal number]"),
        ({"limit": "99999999999999999999999"}, "Bad pagination limit: /99999999999999999999999/ [max: 1000]"),
        ({"limit": "1e20"}, "Bad pagination limit: /1e20/ [must be a decimal number]"),
        ({"limit": "١٢"}, "Bad pagination limit: /١٢/ [must be a decimal number]"),
    ],
)
async def test_out_of_range_pagination_is_400_on_every_list(
    client: TestClient, path: str, params: dict[str, str], description: str
) -> None:
    r = await client.get(path, params=params)
    assert r.status == 400
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == bad(description)


async def test_largest_offset_is_accepted_and_finds_nothing(client: TestClient) -> None:
    await client.post("/v2/entities", json={"id": "E"})
    r = await client.get("/v2/entities", params={"offset": "2147483647", "options": "count"})
    assert r.status == 200
    assert await r.json() == []
    assert r.headers["Fiware-Total-Count"] == "1"


async def test_repeated_uri_parameter_takes_the_last_as_orion(client: TestClient) -> None:
    for eid in ("A", "B", "C"):
        await client.post("/v2/entities", json={"id": eid})
    r = await client.get("/v2/entities?limit=1&limit=2")
    assert [e["id"] for e in await r.json()] == ["A", "B"]
    r = await client.get("/v2/entities?orderBy=id&orderBy=!id")
    assert [e["id"] for e in await r.json()] == ["C", "B", "A"]


# ---- options before the entity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v2/entities/Nope", {}),
        ("DELETE", "/v2/entities/Nope", {}),
        ("GET", "/v2/entities/Nope/attrs/a", {}),
        ("DELETE", "/v2/entities/Nope/attrs/a", {}),
        ("GET", "/v2/entities/Nope/attrs/a/value", {}),
        ("PUT", "/v2/entities/Nope/attrs/a/value", {"json": 1}),
        ("PATCH", "/v2/entities/Nope/attrs", {"json": {"a": {"value": 1}}}),
        ("GET", "/v2/types/Nope", {}),
        ("GET", "/v2/subscriptions/5f0000000000000000000000", {}),
        ("DELETE", "/v2/registrations/5f0000000000000000000000", {}),
        ("GET", "/v2/nothing", {}),
    ],
)
async def test_bad_options_is_400_before_any_lookup(client: TestClient, method: str, path: str, kwargs: Any) -> None:
    r = await client.request(method, path, params={"options": "bogus"}, **kwargs)
    assert r.status == 400
    assert await r.json() == bad("Invalid value for URI param /options/")


async def test_forbidden_character_in_options_reports_the_character(client: TestClient) -> None:
    r = await client.get("/v2/entities/Nope", params={"options": "count<"})
    assert await r.json() == bad("invalid character in URI parameter")


# ---- 411 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/entities"),
        ("PATCH", "/v2/entities"),  # a verb the URL does not serve: still 411 first, as Orion
        ("PUT", "/v2/entities/E"),
        ("PATCH", "/v2/entities/E/attrs"),
        ("POST", "/v2/nothing"),  # an unknown URL too
        ("PUT", "/version"),
    ],
)
async def test_empty_body_on_post_put_patch_is_411_whatever_the_url(client: TestClient, method: str, path: str) -> None:
    r = await client.request(method, path, data=b"")
    assert r.status == 411
    assert r.reason == "Length Required"
    assert await r.json() == LENGTH_REQUIRED
    assert await entity_ids(client) == []


async def test_chunked_body_without_content_length_is_411_and_not_applied(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "E", '
        yield b'"type": "T"}'

    r = await client.post("/v2/entities", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status == 411
    assert await r.json() == LENGTH_REQUIRED
    assert await entity_ids(client) == []


async def test_411_comes_before_a_bad_uri_parameter(client: TestClient) -> None:
    r = await client.post("/v2/entities", params={"limit": "x"}, data=b"")
    assert r.status == 411


async def test_bad_uri_parameter_comes_before_406(client: TestClient) -> None:
    r = await client.get("/v2/entities", params={"limit": "x"}, headers={"Accept": "text/html"})
    assert r.status == 400


async def test_unknown_url_with_unacceptable_accept_is_406(client: TestClient) -> None:
    r = await client.get("/v2/nothing", headers={"Accept": "text/html"})
    assert r.status == 406
    assert await r.json() == {"error": "NotAcceptable", "description": "no acceptable mime-type in accept header"}
    r = await client.get("/v2/nothing", headers={"Accept": "text/plain"})
    assert r.status == 406
    assert await r.json() == {"error": "NotAcceptable", "description": "acceptable MIME types: application/json"}


# ---- Fiware-Service without -multiservice --------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "description"),
    [
        ("x" * 51, "bad length - a tenant name can be max 50 characters long"),
        ("my-city", "bad character in tenant name - only underscore and alphanumeric characters are allowed"),
    ],
)
@pytest.mark.parametrize("path", ["/v2/entities", "/version", "/v2", "/v2/types", "/v2/nothing"])
async def test_bad_tenant_is_rejected_without_multiservice(
    single: TestClient, tenant: str, description: str, path: str
) -> None:
    r = await single.get(path, headers={"Fiware-Service": tenant})
    assert r.status == 400
    assert await r.json() == bad(description)


async def test_bad_tenant_on_a_write_without_multiservice_changes_nothing(single: TestClient) -> None:
    r = await single.post("/v2/entities", json={"id": "E"}, headers={"Fiware-Service": "a.b"})
    assert r.status == 400
    assert await entity_ids(single) == []


async def test_good_tenant_without_multiservice_is_still_the_default_tenant(single: TestClient) -> None:
    r = await single.post("/v2/entities", json={"id": "E"}, headers={"Fiware-Service": "City_1"})
    assert r.status == 201
    assert await entity_ids(single) == ["E"]


async def test_wrong_verb_is_answered_before_the_tenant(client: TestClient) -> None:
    r = await client.delete("/v2/entities", headers={"Fiware-Service": "a-b"})
    assert r.status == 405


# ---- repeated headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Fiware-Service", "Fiware-ServicePath", "fiware-servicepath"])
async def test_repeated_tenancy_header_is_refused(client: TestClient, name: str) -> None:
    """Orion takes the last copy; a proxy in front may have checked the first: we refuse both."""
    values = ("a", "b") if name == "Fiware-Service" else ("/a", "/b")
    headers = [(name, values[0]), (name, values[1]), ("Content-Type", "application/json")]
    r = await client.post("/v2/entities", data=b'{"id": "E"}', headers=headers)
    assert r.status == 400
    canonical = {"fiware-servicepath": "Fiware-ServicePath"}.get(name, name)
    assert await r.json() == bad(f"more than one {canonical} header")
    for tenant in ("", "a", "b"):
        r = await client.get("/v2/entities", headers={"Fiware-Service": tenant})
        assert await r.json() == []


# ---- empty path segments (Orion strips one trailing slash, then splits on "/") -------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "description"),
    [
        ("GET", "/v2/entities//", 400, "entity id length: 0, min length supported: 1"),
        ("DELETE", "/v2/entities//", 400, "entity id length: 0, min length supported: 1"),
        ("GET", "/v2/entities//attrs", 400, "entity id length: 0, min length supported: 1"),
        ("GET", "/v2/entities//attrs/a", 400, "entity id length: 0, min length supported: 1"),
        ("GET", "/v2/entities/E1/attrs//", 400, "attribute name length: 0, min length supported: 1"),
        ("DELETE", "/v2/entities/E1/attrs//", 400, "attribute name length: 0, min length supported: 1"),
        ("GET", "/v2/entities/E1/attrs//value", 400, "attribute name length: 0, min length supported: 1"),
        ("GET", "/v2/entities/E1//", 400, "Service not found. Check your URL as probably it is wrong."),
        ("GET", "/v2/entities/E1//attrs", 400, "Service not found. Check your URL as probably it is wrong."),
    ],
)
async def test_empty_path_segment_is_answered_as_orion(
    client: TestClient, method: str, path: str, status: int, description: str
) -> None:
    await client.post("/v2/entities", json={"id": "E1", "a": {"value": 1}})
    r = await client.request(method, path)
    assert r.status == status
    assert await r.json() == bad(description)
    assert await entity_ids(client) == ["E1"]


async def test_post_on_the_empty_entity_id_is_a_wrong_verb(client: TestClient) -> None:
    r = await client.post("/v2/entities//", json={"a": {"value": 1}})
    assert r.status == 405
    assert r.headers["Allow"] == "GET, DELETE"
    assert await r.json() == {"error": "MethodNotAllowed", "description": "method not allowed"}
    assert await entity_ids(client) == []


async def test_an_id_longer_than_any_stored_in_the_url_is_not_found(client: TestClient) -> None:
    r = await client.get("/v2/entities/" + "E" * 300)
    assert (r.status, await r.json()) == (
        404,
        {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"},
    )
