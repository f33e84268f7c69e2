"""Fiware-Service / Fiware-ServicePath scoping, correlators, CORS, unknown URLs and wrong verbs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def create(client: TestClient, eid: str, headers: dict[str, str] | None = None) -> None:
    r = await client.post("/v2/entities", json={"id": eid, "type": "T"}, headers=headers)
    assert r.status == 201, await r.text()


async def listed(client: TestClient, headers: dict[str, str] | None = None) -> list[str]:
    r = await client.get("/v2/entities", headers=headers)
    assert r.status == 200, await r.text()
    return [e["id"] for e in await r.json()]


def bad(description: str) -> dict[str, str]:
    return {"error": "BadRequest", "description": description}


# ---- Fiware-Service --------------------------------------------------------------------------


async def test_tenants_are_isolated(client: TestClient) -> None:
    await create(client, "InA", {"Fiware-Service": "a"})
    assert await listed(client, {"Fiware-Service": "a"}) == ["InA"]
    assert await listed(client, {"Fiware-Service": "b"}) == []
    assert await listed(client) == []
    r = await client.get("/v2/entities/InA", headers={"Fiware-Service": "b"})
    assert r.status == 404
    r = await client.get("/v2/entities/InA")
    assert r.status == 404


async def test_without_multiservice_the_service_header_is_ignored_as_in_orion(tmp_path) -> None:
    from aiohttp.test_utils import TestServer

    from broker.http.settings import HttpSettings
    from broker.runtime.app import build_app
    from broker.storage.sqlite import SqliteStorage

    app = build_app(SqliteStorage(str(tmp_path / "single.db")), HttpSettings(multiservice=False))
    async with TestClient(TestServer(app)) as single:
        await create(single, "InA", {"Fiware-Service": "a"})
        assert await listed(single) == ["InA"]  # one tenant: the default one
        assert await listed(single, {"Fiware-Service": "b"}) == ["InA"]
        # the syntax is still checked, as Orion's restService does whatever -multiservice says
        r = await single.get("/v2/entities", headers={"Fiware-Service": "not a valid/tenant"})
        assert r.status == 400
        r = await single.post("/v2/entities", json={"id": "InA", "type": "T"}, headers={"Fiware-Service": "b"})
        assert r.status == 422  # the same entity, whatever the header


async def test_the_command_line_follows_orion_multiservice_off_unless_given() -> None:
    from broker.config import load_config
    from broker.http.settings import SETTINGS
    from broker.runtime.app import make_app

    assert make_app(load_config(["-dbPath", "/tmp/unused-ms.db"]))[SETTINGS].multiservice is False
    assert make_app(load_config(["-dbPath", "/tmp/unused-ms.db", "-multiservice"]))[SETTINGS].multiservice is True


async def test_same_entity_key_in_two_tenants(client: TestClient) -> None:
    await create(client, "E", {"Fiware-Service": "a"})
    await create(client, "E", {"Fiware-Service": "b"})
    await create(client, "E")
    assert (await client.delete("/v2/entities/E", headers={"Fiware-Service": "a"})).status == 204
    assert await listed(client, {"Fiware-Service": "b"}) == ["E"]
    assert await listed(client) == ["E"]


async def test_tenant_name_is_lowercased(client: TestClient) -> None:
    await create(client, "E", {"Fiware-Service": "MyCity"})
    assert await listed(client, {"Fiware-Service": "mycity"}) == ["E"]
    assert await listed(client, {"Fiware-Service": "MYCITY"}) == ["E"]


async def test_empty_tenant_header_is_default_tenant(client: TestClient) -> None:
    await create(client, "E")
    assert await listed(client, {"Fiware-Service": ""}) == ["E"]


@pytest.mark.parametrize(
    ("tenant", "description"),
    [
        ("x" * 51, "bad length - a tenant name can be max 50 characters long"),
        ("my-city", "bad character in tenant name - only underscore and alphanumeric characters are allowed"),
        ("a.b", "bad character in tenant name - only underscore and alphanumeric characters are allowed"),
        ("a b", "bad character in tenant name - only underscore and alphanumeric characters are allowed"),
    ],
)
async def test_bad_tenant_is_rejected_on_reads_and_writes(client: TestClient, tenant: str, description: str) -> None:
    r = await client.get("/v2/entities", headers={"Fiware-Service": tenant})
    assert r.status == 400
    assert await r.json() == bad(description)
    r = await client.post("/v2/entities", json={"id": "E"}, headers={"Fiware-Service": tenant})
    assert r.status == 400
    assert await r.json() == bad(description)
    assert await listed(client) == []


async def test_tenant_of_fifty_characters_is_accepted(client: TestClient) -> None:
    await create(client, "E", {"Fiware-Service": "t_" * 25})
    assert await listed(client, {"Fiware-Service": "T_" * 25}) == ["E"]


# ---- Fiware-ServicePath ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "visible"),
    [
        ("/a/b", True),
        ("/a/#", True),
        ("/#", True),
        ("/a/b/#", True),
        ("/a/b/", True),  # trailing slash discarded
        (" /a/b ", True),  # whitespace stripped
        ("/a", False),
        ("/c", False),
        ("/a/b/c", False),
        ("/", False),
        ("/c,/a/b", True),
        ("/c,/d/#", False),
    ],
)
async def test_service_path_scoping_on_reads(client: TestClient, path: str, visible: bool) -> None:
    await create(client, "E", {"Fiware-ServicePath": "/a/b"})
    assert await listed(client, {"Fiware-ServicePath": path}) == (["E"] if visible else [])
    r = await client.get("/v2/entities/E", headers={"Fiware-ServicePath": path})
    assert r.status == (200 if visible else 404)


async def test_no_service_path_on_read_means_everything(client: TestClient) -> None:
    await create(client, "Root")
    await create(client, "Deep", {"Fiware-ServicePath": "/x/y/z"})
    assert await listed(client) == ["Root", "Deep"]
    assert await listed(client, {"Fiware-ServicePath": "/"}) == ["Root"]


async def test_ten_service_paths_on_read_are_accepted(client: TestClient) -> None:
    await create(client, "E", {"Fiware-ServicePath": "/p9"})
    header = ",".join(f"/p{i}" for i in range(10))
    assert await listed(client, {"Fiware-ServicePath": header}) == ["E"]


async def test_write_uses_service_path_for_lookup(client: TestClient) -> None:
    await create(client, "E", {"Fiware-ServicePath": "/a"})
    r = await client.patch("/v2/entities/E/attrs", json={"x": {"value": 1}}, headers={"Fiware-ServicePath": "/b"})
    assert r.status == 404
    r = await client.delete("/v2/entities/E", headers={"Fiware-ServicePath": "/b"})
    assert r.status == 404
    r = await client.delete("/v2/entities/E", headers={"Fiware-ServicePath": "/a"})
    assert r.status == 204


@pytest.mark.parametrize(
    ("path", "description"),
    [
        ("a/b", "Only /absolute/ Service Paths allowed [a service path must begin with /]"),
        ("/" + "/".join("c" * 11), "too many components in ServicePath"),
        ("/" + "x" * 51, "component-name too long in ServicePath"),
        ("/a-b", "a component of ServicePath contains an illegal character"),
        ("/a.b", "a component of ServicePath contains an illegal character"),
        ("/a#/b", "a component of ServicePath contains an illegal character"),
        (",".join(f"/p{i}" for i in range(11)), "too many service paths - a maximum of ten service paths is allowed"),
        ("//a", "empty component in ServicePath"),
        ("/a///b", "empty component in ServicePath"),
        ("/a/b//", "empty component in ServicePath"),
    ],
)
async def test_bad_service_path_is_rejected(client: TestClient, path: str, description: str) -> None:
    r = await client.get("/v2/entities", headers={"Fiware-ServicePath": path})
    assert r.status == 400
    assert await r.json() == bad(description)
    r = await client.post("/v2/entities", json={"id": "E"}, headers={"Fiware-ServicePath": path})
    assert r.status == 400
    assert await r.json() == bad(description)
    assert await listed(client) == []


async def test_one_trailing_slash_in_service_path_is_dropped(client: TestClient) -> None:
    await create(client, "E", {"Fiware-ServicePath": "/a/b/"})
    assert await listed(client, {"Fiware-ServicePath": "/a/b"}) == ["E"]
    r = await client.get("/v2/entities/E?attrs=servicePath", headers={"Fiware-ServicePath": "/a/b/"})
    assert r.status == 200
    assert (await r.json())["servicePath"]["value"] == "/a/b"


async def test_service_path_of_ten_levels_of_fifty_chars_is_accepted(client: TestClient) -> None:
    path = "/" + "/".join(["c" * 50] * 10)
    await create(client, "E", {"Fiware-ServicePath": path})
    assert await listed(client, {"Fiware-ServicePath": path}) == ["E"]


async def test_more_than_one_service_path_on_write_is_rejected(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "E"}, headers={"Fiware-ServicePath": "/a,/b"})
    assert r.status == 400
    assert await r.json() == bad("more than one service path in context update request")
    assert await listed(client) == []


async def test_hash_service_path_on_write_is_rejected(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "E"}, headers={"Fiware-ServicePath": "/a/#"})
    assert r.status == 400
    assert (await r.json())["error"] == "BadRequest"
    assert await listed(client) == []


async def test_bad_body_is_reported_before_bad_tenant(client: TestClient) -> None:
    """Orion parses the payload before checking the tenant (RestService.cpp)."""
    r = await client.post(
        "/v2/entities", data=b"{oops", headers={"Content-Type": "application/json", "Fiware-Service": "a-b"}
    )
    assert r.status == 400
    assert await r.json() == {"error": "ParseError", "description": "Errors found in incoming JSON buffer"}


# ---- Correlator and common headers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/v2/entities"), ("get", "/v2/entities/Nope"), ("get", "/v2/bogus")]
)
async def test_correlator_is_echoed(client: TestClient, method: str, path: str) -> None:
    r = await getattr(client, method)(path, headers={"Fiware-Correlator": "my-corr-123"})
    assert r.headers["Fiware-Correlator"] == "my-corr-123"


async def test_correlator_is_generated_and_unique(client: TestClient) -> None:
    r1 = await client.get("/v2/entities")
    r2 = await client.post("/v2/entities", json={"id": "E"})
    c1, c2 = r1.headers["Fiware-Correlator"], r2.headers["Fiware-Correlator"]
    assert UUID.match(c1) and UUID.match(c2)
    assert c1 != c2


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/v2/entities", {}),
        ("post", "/v2/entities", {"json": {"id": "E"}}),
        ("get", "/v2/entities/Nope", {}),
        ("get", "/v2/nothing", {}),
        ("post", "/v2/entities", {"data": b"[", "headers": {"Content-Type": "application/json"}}),
    ],
)
async def test_no_server_header(client: TestClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
    r = await getattr(client, method)(path, **kwargs)
    assert "Server" not in r.headers
    assert "Date" in r.headers


async def test_204_carries_no_content_type(client: TestClient) -> None:
    await create(client, "E")
    r = await client.delete("/v2/entities/E")
    assert r.status == 204
    assert "Content-Type" not in r.headers
    assert list(r.headers.keys())[:2] == ["Date", "Fiware-Correlator"]


# ---- Unknown URLs and wrong verbs -------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v2/nothing", "/v2/entities/E/attrs/a/value/x", "/v3/entities", "/V2/entities", "/v2/Entities"],
)
async def test_unknown_url_is_400_service_not_found(client: TestClient, path: str) -> None:
    r = await client.get(path)
    assert r.status == 400
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == bad("Service not found. Check your URL as probably it is wrong.")


async def test_root_url_is_not_a_web_page(client: TestClient) -> None:
    r = await client.get("/")
    assert r.status == 400
    assert await r.json() == bad("The Orion Context Broker is a REST service, not a &#39;web page&#39;")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/v2/entities", {"GET", "POST"}),
        ("put", "/v2/entities", {"GET", "POST"}),
        ("post", "/v2/entities/E", {"GET", "DELETE"}),
        ("delete", "/v2/entities/E/attrs", {"GET", "POST", "PATCH", "PUT"}),
        ("post", "/v2/entities/E/attrs/a", {"GET", "PUT", "DELETE"}),
        ("delete", "/v2/entities/E/attrs/a/value", {"GET", "PUT"}),
        ("post", "/v2/types", {"GET"}),
        ("delete", "/v2/types/T", {"GET"}),
    ],
)
async def test_wrong_verb_is_405_with_allow(client: TestClient, method: str, path: str, allowed: set[str]) -> None:
    kwargs: dict[str, Any] = {"json": {"a": {"value": 1}}} if method in ("post", "put", "patch") else {}
    r = await getattr(client, method)(path, **kwargs)
    assert r.status == 405
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed
    assert await r.json() == {"error": "MethodNotAllowed", "description": "method not allowed"}


async def test_wrong_verb_allow_header_uses_orion_order(client: TestClient) -> None:
    r = await client.delete("/v2/entities")
    assert r.headers["Allow"] == "POST, GET"


async def test_wrong_verb_with_trailing_slash(client: TestClient) -> None:
    r = await client.delete("/v2/entities/")
    assert r.status == 405


# ---- CORS ------------------------------------------------------------------------------------


async def test_cors_headers_on_responses(cors_client: TestClient) -> None:
    origin = {"Origin": "http://example.org"}
    r = await cors_client.post("/v2/entities", json={"id": "E"}, headers=origin)
    assert r.status == 201
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Fiware-Correlator", "Fiware-Total-Count", "Location"} <= exposed
    r = await cors_client.get("/v2/entities/Nope", headers=origin)
    assert r.status == 404
    assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_no_cors_headers_without_origin_or_when_disabled(client: TestClient, cors_client: TestClient) -> None:
    r = await cors_client.get("/v2/entities")
    assert "Access-Control-Allow-Origin" not in r.headers
    r = await client.get("/v2/entities", headers={"Origin": "http://example.org"})
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v2/entities", {"GET", "POST", "OPTIONS"}),
        ("/v2/entities/E", {"GET", "DELETE", "OPTIONS"}),
        ("/v2/entities/E/attrs", {"GET", "POST", "PATCH", "PUT", "OPTIONS"}),
        ("/v2/entities/E/attrs/a/value", {"GET", "PUT", "OPTIONS"}),
        ("/v2/types", {"GET", "OPTIONS"}),
    ],
)
async def test_cors_preflight(cors_client: TestClient, path: str, methods: set[str]) -> None:
    r = await cors_client.options(
        path,
        headers={
            "Origin": "http://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, Fiware-Service",
        },
    )
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")} == methods
    allowed_headers = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "fiware-service", "fiware-servicepath", "fiware-correlator"} <= allowed_headers
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert r.headers["Fiware-Correlator"]
    assert await r.read() == b""


async def test_cors_preflight_on_unknown_url(cors_client: TestClient) -> None:
    r = await cors_client.options("/v2/nothing", headers={"Origin": "http://example.org"})
    assert r.status == 400
    assert await r.json() == bad("Service not found. Check your URL as probably it is wrong.")
