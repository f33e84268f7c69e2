"""Wrong verbs (405 + Allow) and CORS headers, value for value and in Orion's order.

Orion's badVerb*/options* service routines name the methods of each resource in their own order;
restReply adds the CORS headers after Content-Type, never on a 405, and only on `/v2` URLs;
`GET /version` adds its own, before Content-Type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage

ALLOW_HEADERS = (
    "Content-Type, Fiware-Service, Fiware-Servicepath, Ngsiv2-AttrsFormat, Fiware-Correlator, "
    "X-Forwarded-For, X-Real-IP, X-Auth-Token"
)
EXPOSE = "Fiware-Correlator, Fiware-Total-Count, Location"
ORIGIN = {"Origin": "http://example.org"}
NOT_ALLOWED = {"error": "MethodNotAllowed", "description": "method not allowed"}

# path -> (Allow of a 405, Access-Control-Allow-Methods of a preflight), as Orion's routines write them
RESOURCES = {
    "/v2": ("GET", "GET, OPTIONS"),
    "/v2/entities": ("POST, GET", "GET, POST, OPTIONS"),
    "/v2/entities/E": ("GET, DELETE", "GET, DELETE, OPTIONS"),
    "/v2/entities/E/attrs": ("GET, PATCH, POST, PUT", "GET, PATCH, POST, PUT, OPTIONS"),
    "/v2/entities/E/attrs/a": ("GET, PUT, DELETE", "GET, PUT, DELETE, OPTIONS"),
    "/v2/entities/E/attrs/a/value": ("GET, PUT", "GET, PUT, OPTIONS"),
    "/v2/types": ("GET", "GET, OPTIONS"),
    "/v2/types/T": ("GET", "GET, OPTIONS"),
    "/v2/subscriptions": ("POST, GET", "GET, POST, OPTIONS"),
    "/v2/subscriptions/S": ("GET, DELETE, PATCH", "GET, DELETE, PATCH, OPTIONS"),
    "/v2/op/query": ("POST", "POST, OPTIONS"),
    "/v2/op/update": ("POST", "POST, OPTIONS"),
}


async def _client(tmp_path: Path, cors_origin: str) -> AsyncIterator[TestClient]:
    settings = HttpSettings(cors_origin=cors_origin, cors_max_age=600)
    async with TestClient(TestServer(build_app(SqliteStorage(str(tmp_path / "b.db")), settings))) as c:
        yield c


@pytest.fixture
async def any_origin(tmp_path: Path) -> AsyncIterator[TestClient]:
    async for c in _client(tmp_path, "__ALL"):
        yield c


@pytest.fixture
async def one_origin(tmp_path: Path) -> AsyncIterator[TestClient]:
    async for c in _client(tmp_path, "http://example.org"):
        yield c


def header_names(r: object) -> list[str]:
    return list(r.headers.keys())  # type: ignore[attr-defined]


# ---- 405 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "allowed"), [(p, a) for p, (a, _) in RESOURCES.items()])
async def test_405_names_the_methods_in_orions_order(client: TestClient, path: str, allowed: str) -> None:
    r = await client.request("COPY", path)  # a method no resource serves
    assert r.status == 405
    assert r.headers["Allow"] == allowed
    assert await r.json() == NOT_ALLOWED
    assert header_names(r) == ["Date", "Fiware-Correlator", "Allow", "Content-Type", "Content-Length"]


@pytest.mark.parametrize(("path", "allowed"), [(p, a) for p, (a, _) in RESOURCES.items()])
async def test_405_with_cors_adds_options_and_no_cors_headers(any_origin: TestClient, path: str, allowed: str) -> None:
    r = await any_origin.request("TRACE", path, headers=ORIGIN)
    assert r.status == 405
    assert r.headers["Allow"] == allowed + ", OPTIONS"
    assert not [h for h in r.headers if h.startswith("Access-Control")]


async def test_405_on_version_with_cors_has_no_options(any_origin: TestClient) -> None:
    r = await any_origin.post("/version", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 405
    assert r.headers["Allow"] == "GET"


async def test_options_without_cors_is_a_wrong_verb(client: TestClient) -> None:
    r = await client.options("/v2/entities/E/attrs", headers=ORIGIN)
    assert r.status == 405
    assert r.headers["Allow"] == "GET, PATCH, POST, PUT"
    assert await r.json() == NOT_ALLOWED


# ---- preflight ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "methods"), [(p, m) for p, (_, m) in RESOURCES.items()])
async def test_preflight_for_any_origin(any_origin: TestClient, path: str, methods: str) -> None:
    r = await any_origin.options(path, headers={**ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.status == 200
    assert await r.read() == b""
    assert list(r.headers.items())[1:] == [
        ("Fiware-Correlator", r.headers["Fiware-Correlator"]),
        ("Access-Control-Allow-Methods", methods),
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", EXPOSE),
        ("Access-Control-Allow-Headers", ALLOW_HEADERS),
        ("Access-Control-Max-Age", "600"),
        ("Content-Length", "0"),
    ]
    assert header_names(r)[0] == "Date"


async def test_preflight_for_the_configured_origin(one_origin: TestClient) -> None:
    r = await one_origin.options("/v2/entities", headers=ORIGIN)
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://example.org"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {}])
async def test_preflight_for_another_origin_is_a_bare_200(one_origin: TestClient, headers: dict[str, str]) -> None:
    r = await one_origin.options("/v2/entities", headers=headers)
    assert r.status == 200
    assert header_names(r) == ["Date", "Fiware-Correlator", "Content-Length"]


async def test_preflight_on_version_has_its_own_order(any_origin: TestClient) -> None:
    r = await any_origin.options("/version", headers=ORIGIN)
    assert r.status == 200
    assert header_names(r)[2:] == [
        "Access-Control-Allow-Origin",
        "Access-Control-Allow-Methods",
        "Access-Control-Expose-Headers",
        "Access-Control-Allow-Headers",
        "Access-Control-Max-Age",
        "Content-Length",
    ]
    assert r.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"


# ---- CORS on answers -------------------------------------------------------------------------------


async def test_cors_headers_follow_content_type_on_a_200(any_origin: TestClient) -> None:
    r = await any_origin.get("/v2/entities", params={"options": "count"}, headers=ORIGIN)
    assert r.status == 200
    assert header_names(r) == [
        "Date",
        "Fiware-Correlator",
        "Fiware-Total-Count",
        "Content-Type",
        "Access-Control-Allow-Origin",
        "Access-Control-Expose-Headers",
        "Content-Length",
    ]
    assert r.headers["Access-Control-Expose-Headers"] == EXPOSE


async def test_cors_headers_on_a_201_and_on_errors(any_origin: TestClient) -> None:
    r = await any_origin.post("/v2/entities", json={"id": "E"}, headers=ORIGIN)
    assert header_names(r) == [
        "Date",
        "Fiware-Correlator",
        "Location",
        "Access-Control-Allow-Origin",
        "Access-Control-Expose-Headers",
        "Content-Length",
    ]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = await any_origin.get("/v2/nothing", headers=ORIGIN)
    assert r.status == 400
    assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_version_adds_origin_and_exposed_headers_before_content_type(any_origin: TestClient) -> None:
    # Orion's versionTreat pushes them itself (CORS support for /version, Orion #3066)
    r = await any_origin.get("/version", headers=ORIGIN)
    assert r.status == 200
    assert header_names(r) == [
        "Date",
        "Fiware-Correlator",
        "Access-Control-Allow-Origin",
        "Access-Control-Expose-Headers",
        "Content-Type",
        "Content-Length",
    ]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Expose-Headers"] == EXPOSE
    assert r.headers["Content-Type"] == "application/json"


async def test_version_for_another_origin_or_none_has_no_cors_headers(one_origin: TestClient) -> None:
    for headers in ({"Origin": "http://evil.example"}, {}):
        r = await one_origin.get("/version", headers=headers)
        assert r.status == 200
        assert not [h for h in r.headers if h.startswith("Access-Control")]
    r = await one_origin.get("/version", headers=ORIGIN)
    assert r.headers["Access-Control-Allow-Origin"] == "http://example.org"


async def test_specific_origin_gets_its_name_and_others_nothing(one_origin: TestClient) -> None:
    r = await one_origin.get("/v2/entities", headers=ORIGIN)
    assert r.headers["Access-Control-Allow-Origin"] == "http://example.org"
    r = await one_origin.get("/v2/entities", headers={"Origin": "http://evil.example"})
    assert not [h for h in r.headers if h.startswith("Access-Control")]


async def test_preflight_on_an_unknown_url_is_400_with_the_preflight_cors_headers(any_origin: TestClient) -> None:
    r = await any_origin.options("/v2/nothing", headers=ORIGIN)
    assert r.status == 400
    assert header_names(r) == [
        "Date",
        "Fiware-Correlator",
        "Content-Type",
        "Access-Control-Allow-Origin",
        "Access-Control-Expose-Headers",
        "Access-Control-Allow-Headers",
        "Access-Control-Max-Age",
        "Content-Length",
    ]
    assert await r.json() == {
        "error": "BadRequest",
        "description": "Service not found. Check your URL as probably it is wrong.",
    }
