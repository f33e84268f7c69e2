"""Orion's request validation: every rejected write answers Orion's error and leaves the store unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

JSON = {"Content-Type": "application/json"}
SEED = {"id": "Seed", "type": "T", "a": {"value": 1, "metadata": {"m": {"value": "x"}}}}


async def snapshot(client: TestClient) -> Any:
    r = await client.get(
        "/v2/entities", params={"attrs": "dateCreated,dateModified,*", "metadata": "dateModified,*", "limit": "1000"}
    )
    assert r.status == 200
    return await r.json()


@pytest.fixture
async def seeded(client: TestClient) -> AsyncIterator[TestClient]:
    r = await client.post("/v2/entities", json=SEED)
    assert r.status == 201
    yield client


async def rejected(
    client: TestClient,
    method: str,
    path: str,
    status: int,
    error: str,
    description: str | None,
    **kwargs: Any,
) -> None:
    """Send the request, check Orion's error body, and check nothing changed."""
    before = await snapshot(client)
    r = await client.request(method, path, **kwargs)
    assert r.status == status, await r.text()
    assert r.headers["Content-Type"] == "application/json"
    assert "Server" not in r.headers
    body = await r.json()
    assert body["error"] == error
    if description is not None:
        assert body == {"error": error, "description": description}
    assert await snapshot(client) == before


def raw(body: Any) -> dict[str, Any]:
    return {"data": orjson.dumps(body), "headers": JSON}


def bad(description: str) -> tuple[str, str]:
    return ("BadRequest", description)


BAD_ID_CHARS = [" ", "&", "?", "/", "#", "<", ">", '"', "'", "=", ";", "(", ")", "\t", "é", "\u00a0", "\x7f"]
FORBIDDEN_VALUE_CHARS = ["<", ">", '"', "'", "=", ";", "(", ")"]


# ---- JSON syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"{", b'{"id": "E",}', b"not json", b'{"id": "E"} x', b"\xff\xfe"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/entities"),
        ("POST", "/v2/entities/Seed/attrs"),
        ("PATCH", "/v2/entities/Seed/attrs"),
        ("PUT", "/v2/entities/Seed/attrs"),
        ("PUT", "/v2/entities/Seed/attrs/a"),
    ],
)
async def test_invalid_json_is_parse_error(seeded: TestClient, method: str, path: str, payload: bytes) -> None:
    await rejected(
        seeded, method, path, 400, "ParseError", "Errors found in incoming JSON buffer", data=payload, headers=JSON
    )


@pytest.mark.parametrize("payload", [[], [{"id": "E"}], "E", 1, None, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/entities"), ("PATCH", "/v2/entities/Seed/attrs"), ("PUT", "/v2/entities/Seed/attrs")],
)
async def test_non_object_body_is_parse_error(seeded: TestClient, method: str, path: str, payload: Any) -> None:
    await rejected(seeded, method, path, 400, "ParseError", "Errors found in incoming JSON buffer", **raw(payload))


# ---- entity id and type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({}, "entity id length: 0, min length supported: 1"),
        ({"type": "T"}, "entity id length: 0, min length supported: 1"),
        ({"id": ""}, "entity id length: 0, min length supported: 1"),
        ({"id": 5}, "Invalid JSON type for entity id"),
        ({"id": None}, "Invalid JSON type for entity id"),
        ({"id": ["E"]}, "Invalid JSON type for entity id"),
        ({"id": "E", "type": 5}, "Invalid JSON type for entity type"),
        ({"id": "E", "type": {}}, "Invalid JSON type for entity type"),
        ({"id": "E", "type": ""}, "entity type length: 0, min length supported: 1"),
        ({"id": "i" * 257}, "entity id length: 257, max length supported: 256"),
        ({"id": "E", "type": "t" * 257}, "entity type length: 257, max length supported: 256"),
    ],
)
async def test_bad_entity_id_or_type(seeded: TestClient, body: dict[str, Any], description: str) -> None:
    await rejected(seeded, "POST", "/v2/entities", 400, "BadRequest", description, json=body)


@pytest.mark.parametrize("char", BAD_ID_CHARS)
async def test_forbidden_characters_in_entity_id(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded, "POST", "/v2/entities", 400, "BadRequest", "Invalid characters in entity id", json={"id": f"a{char}b"}
    )


@pytest.mark.parametrize("char", BAD_ID_CHARS)
async def test_forbidden_characters_in_entity_type(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        400,
        "BadRequest",
        "Invalid characters in entity type",
        json={"id": "E", "type": f"a{char}b"},
    )


async def test_too_long_id_type_service_path_combination(seeded: TestClient) -> None:
    path = "/" + "/".join(["c" * 50] * 10)
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        400,
        "BadRequest",
        "Too long entity id/type/servicePath combination",
        json={"id": "i" * 256, "type": "t" * 256},
        headers={"Fiware-ServicePath": path},
    )


async def test_errors_are_reported_in_document_order(seeded: TestClient) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        400,
        "BadRequest",
        "Invalid characters in entity type",
        data=b'{"type": "a b", "id": "c d"}',
        headers=JSON,
    )


# ---- attributes ------------------------------------------------------------------------------


ATTR_ERRORS = [
    ({"a": 1}, "attribute must be a JSON object, unless keyValues option is used"),
    ({"a": "x"}, "attribute must be a JSON object, unless keyValues option is used"),
    ({"a": [1]}, "attribute must be a JSON object, unless keyValues option is used"),
    ({"a": {"value": 1, "unit": "C"}}, "unrecognized property for context attribute"),
    ({"a": {"value": 1, "type": 1}}, "invalid JSON type for attribute type"),
    ({"a": {"value": 1, "type": None}}, "invalid JSON type for attribute type"),
    ({"a": {"value": 1, "type": ""}}, "attribute type length: 0, min length supported: 1"),
    ({"a": {"value": 1, "type": "y" * 257}}, "attribute type length: 257, max length supported: 256"),
    ({"x" * 257: {"value": 1}}, "attribute name length: 257, max length supported: 256"),
    ({"a": {"value": "a<b"}}, "Invalid characters in attribute value"),
    ({"a": {"value": {"k": ["ok", "x=y"]}}}, "Invalid characters in attribute value"),
    ({"a": {"value": 1, "metadata": 5}}, "metadata not a JSON object"),
    ({"a": {"value": 1, "metadata": []}}, "metadata not a JSON object"),
    ({"a": {"value": 1, "metadata": {"m": 5}}}, "metadata must be a JSON object"),
    ({"a": {"value": 1, "metadata": {"m": {"value": 1, "type": 5}}}}, "invalid JSON type for attribute metadata type"),
    ({"a": {"value": 1, "metadata": {"m": {"value": 1, "x": 5}}}}, "invalid JSON field for attribute metadata"),
    (
        {"a": {"value": 1, "metadata": {"m": {"value": 1, "type": ""}}}},
        "metadata type length: 0, min length supported: 1",
    ),
    (
        {"a": {"value": 1, "metadata": {"m" * 257: {"value": 1}}}},
        "metadata name length: 257, max length supported: 256",
    ),
    (
        {"a": {"value": 1, "metadata": {"m": {"value": 1, "type": "t" * 257}}}},
        "metadata type length: 257, max length supported: 256",
    ),
    ({"a": {"value": 1, "metadata": {"m": {"value": "(x)"}}}}, "Invalid characters in metadata value"),
    (
        {"a": {"type": "TextUnrestricted", "value": "<ok>", "metadata": {"m": {"value": "<no>"}}}},
        "Invalid characters in metadata value",
    ),
    ({"a": {"type": "DateTime", "value": "yesterday"}}, "date has invalid format"),
    ({"a": {"type": "DateTime", "value": 5}}, "date has invalid format"),
    ({"a": {"type": "ISO8601", "value": "2018-13-01"}}, "date has invalid format"),
    ({"a": {"value": 1, "metadata": {"m": {"type": "DateTime", "value": "nope"}}}}, "date has invalid format"),
]


@pytest.mark.parametrize(("attrs", "description"), ATTR_ERRORS)
async def test_bad_attribute_on_create(seeded: TestClient, attrs: dict[str, Any], description: str) -> None:
    await rejected(seeded, "POST", "/v2/entities", 400, "BadRequest", description, json={"id": "E", **attrs})


@pytest.mark.parametrize(("attrs", "description"), ATTR_ERRORS)
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
async def test_bad_attribute_on_update(
    seeded: TestClient, method: str, attrs: dict[str, Any], description: str
) -> None:
    """A bad attribute next to a good one: nothing at all is applied."""
    body = {"b": {"value": 2}, **attrs} if "a" in attrs else {**attrs}
    await rejected(seeded, method, "/v2/entities/Seed/attrs", 400, "BadRequest", description, json=body)


@pytest.mark.parametrize("char", BAD_ID_CHARS)
async def test_forbidden_characters_in_attribute_name(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        400,
        "BadRequest",
        "Invalid characters in attribute name",
        json={"id": "E", f"a{char}b": {"value": 1}},
    )


@pytest.mark.parametrize("char", BAD_ID_CHARS)
async def test_forbidden_characters_in_attribute_type(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded,
        "PATCH",
        "/v2/entities/Seed/attrs",
        400,
        "BadRequest",
        "Invalid characters in attribute type",
        json={"a": {"value": 1, "type": f"a{char}b"}},
    )


@pytest.mark.parametrize("char", BAD_ID_CHARS)
async def test_forbidden_characters_in_metadata_name_and_type(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities/Seed/attrs",
        400,
        "BadRequest",
        "Invalid characters in metadata name",
        json={"a": {"value": 1, "metadata": {f"m{char}": {"value": 1}}}},
    )
    await rejected(
        seeded,
        "POST",
        "/v2/entities/Seed/attrs",
        400,
        "BadRequest",
        "Invalid characters in metadata type",
        json={"a": {"value": 1, "metadata": {"m": {"value": 1, "type": f"t{char}"}}}},
    )


@pytest.mark.parametrize("char", FORBIDDEN_VALUE_CHARS)
async def test_forbidden_characters_in_string_values(seeded: TestClient, char: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        400,
        "BadRequest",
        "Invalid characters in attribute value",
        json={"id": "E", "a": {"value": f"x{char}y"}},
    )
    await rejected(
        seeded,
        "PATCH",
        "/v2/entities/Seed/attrs",
        400,
        "BadRequest",
        "Invalid characters in attribute value",
        params={"options": "keyValues"},
        json={"a": [f"x{char}y"]},
    )


@pytest.mark.parametrize("char", FORBIDDEN_VALUE_CHARS)
async def test_text_unrestricted_accepts_forbidden_characters(seeded: TestClient, char: str) -> None:
    r = await seeded.patch("/v2/entities/Seed/attrs", json={"a": {"type": "TextUnrestricted", "value": f"x{char}y"}})
    assert r.status == 204
    r = await seeded.get("/v2/entities/Seed/attrs/a")
    assert (await r.json())["value"] == f"x{char}y"


@pytest.mark.parametrize("name", ["geo:distance", "*"])
async def test_reserved_attribute_names_are_rejected(seeded: TestClient, name: str) -> None:
    await rejected(seeded, "POST", "/v2/entities", 400, "BadRequest", None, json={"id": "E", name: {"value": 1}})
    await rejected(seeded, "POST", "/v2/entities/Seed/attrs", 400, "BadRequest", None, json={name: {"value": 1}})


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
async def test_id_or_type_in_attrs_body(seeded: TestClient, method: str) -> None:
    path = "/v2/entities/Seed/attrs"
    await rejected(seeded, method, path, 400, *bad("entity id specified in payload"), json={"id": "X", "b": {}})
    await rejected(seeded, method, path, 400, *bad("entity type specified in payload"), json={"type": "X", "b": {}})
    await rejected(seeded, method, path, 400, *bad("empty payload"), json={})


# ---- nesting, size, length, media types -------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


async def test_nesting_over_limit_is_parse_error(seeded: TestClient) -> None:
    await rejected(
        seeded, "POST", "/v2/entities", 400, "ParseError", None, json={"id": "E", "a": {"value": nested(100)}}
    )
    await rejected(
        seeded, "PATCH", "/v2/entities/Seed/attrs", 400, "ParseError", None, json={"a": {"value": [nested(80)]}}
    )


async def test_moderate_nesting_is_accepted(seeded: TestClient) -> None:
    r = await seeded.post("/v2/entities", json={"id": "E", "a": {"value": nested(20)}})
    assert r.status == 201
    r = await seeded.get("/v2/entities/E/attrs/a/value")
    assert await r.json() == nested(20)


async def test_payload_over_one_megabyte_is_413(seeded: TestClient) -> None:
    body = orjson.dumps({"id": "Big", "a": {"value": "x" * 1_100_000}})
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        413,
        "RequestEntityTooLarge",
        f"payload size: {len(body)}, max size supported: 1048576",
        data=body,
        headers=JSON,
    )


async def test_payload_just_under_one_megabyte_is_accepted(seeded: TestClient) -> None:
    filler = "x" * (1048576 - 100)
    body = orjson.dumps({"id": "Big", "a": {"value": filler}})
    assert len(body) <= 1048576
    r = await seeded.post("/v2/entities", data=body, headers=JSON)
    assert r.status == 201


async def test_chunked_body_without_content_length_is_411(seeded: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "Chunked", '
        yield b'"a": {"value": 1}}'

    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        411,
        "ContentLengthRequired",
        "Zero/No Content-Length in PUT/POST/PATCH request",
        data=chunks(),
        headers=JSON,
    )


@pytest.mark.parametrize(("method", "path"), [("POST", "/v2/entities"), ("PATCH", "/v2/entities/Seed/attrs")])
async def test_empty_body_is_411(seeded: TestClient, method: str, path: str) -> None:
    await rejected(
        seeded,
        method,
        path,
        411,
        "ContentLengthRequired",
        "Zero/No Content-Length in PUT/POST/PATCH request",
        data=b"",
        headers=JSON,
    )


async def test_missing_content_type_is_415(seeded: TestClient) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        415,
        "UnsupportedMediaType",
        "Content-Type header not used, default application/octet-stream is not supported",
        data=b'{"id": "E"}',
        skip_auto_headers=["Content-Type"],
    )


@pytest.mark.parametrize(
    ("content_type", "description"),
    [
        ("application/xml", "not supported content type: application/xml"),
        ("text/plain", "not supported content type: text/plain"),
        ("application/x-www-form-urlencoded", "not supported content type: application/x-www-form-urlencoded"),
        ("application/ld+json", "not supported content type: application/ld+json"),
    ],
)
async def test_unsupported_content_type_is_415(seeded: TestClient, content_type: str, description: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        415,
        "UnsupportedMediaType",
        description,
        data=b'{"id": "E"}',
        headers={"Content-Type": content_type},
    )


async def test_error_descriptions_are_html_escaped(seeded: TestClient) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        415,
        "UnsupportedMediaType",
        "not supported content type: application/x&#40;1&#41;",
        data=b'{"id": "E"}',
        headers={"Content-Type": "application/x(1)"},
    )


@pytest.mark.parametrize(
    ("accept", "description"),
    [
        ("text/html", "no acceptable mime-type in accept header"),
        ("application/xml", "no acceptable mime-type in accept header"),
        ("text/plain", "acceptable MIME types: application/json"),
    ],
)
async def test_unacceptable_accept_on_write_is_406(seeded: TestClient, accept: str, description: str) -> None:
    await rejected(
        seeded,
        "POST",
        "/v2/entities",
        406,
        "NotAcceptable",
        description,
        json={"id": "E"},
        headers={"Accept": accept},
    )


@pytest.mark.parametrize(("method", "path"), [("GET", "/v2/entities"), ("DELETE", "/v2/entities/Seed")])
async def test_content_type_on_get_or_delete_without_payload(seeded: TestClient, method: str, path: str) -> None:
    await rejected(
        seeded,
        method,
        path,
        400,
        "BadRequest",
        "Orion accepts no payload for GET/DELETE requests. HTTP header Content-Type is thus forbidden",
        headers=JSON,
    )


# ---- URL and URI parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v2/entities/Se%3Ced"),
        ("DELETE", "/v2/entities/Seed/attrs/a%28"),
        ("PATCH", "/v2/entities/Seed%27/attrs"),
        ("PUT", "/v2/entities/Seed/attrs/a%3D/value"),
        ("DELETE", "/v2/entities/Seed%20x"),
        # putEntityAttribute checks the name in the URL before the attribute is checked
        ("PUT", "/v2/entities/Seed/attrs/a%20b"),
        ("PUT", "/v2/entities/Seed/attrs/a%23b"),
    ],
)
async def test_invalid_character_in_uri(seeded: TestClient, method: str, path: str) -> None:
    kwargs: dict[str, Any] = {"json": {"a": {"value": 2}}} if method == "PATCH" else {}
    if method == "PUT" and not path.endswith("/value"):
        kwargs = {"json": {"value": 2}}
    if path.endswith("/value"):
        kwargs = {"data": b"2", "headers": {"Content-Type": "text/plain"}}
    await rejected(seeded, method, path, 400, "BadRequest", "invalid character in URI", **kwargs)


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"type": "T;x"}, "invalid character in URI parameter"),
        ({"options": "upsert'"}, "invalid character in URI parameter"),
        ({"type": ""}, "Empty right-hand-side for URI param /type/"),
        ({"options": ""}, "Empty right-hand-side for URI param /options/"),
        ({"options": "upsert,bogus"}, "Invalid value for URI param /options/"),
        ({"options": "Upsert"}, "Invalid value for URI param /options/"),
    ],
)
async def test_bad_uri_params_on_writes(seeded: TestClient, params: dict[str, str], description: str) -> None:
    await rejected(
        seeded, "POST", "/v2/entities", 400, "BadRequest", description, params=params, json={"id": "Seed", "type": "T"}
    )
    await rejected(
        seeded,
        "PATCH",
        "/v2/entities/Seed/attrs",
        400,
        "BadRequest",
        description,
        params=params,
        json={"a": {"value": 9}},
    )


async def test_payload_size_is_checked_before_routing(seeded: TestClient) -> None:
    """The 413 check runs before anything else, even on an unknown URL."""
    body = b"x" * 1_100_000
    r = await seeded.post("/v2/nothing", data=body, headers=JSON)
    assert r.status == 413
    assert (await r.json())["error"] == "RequestEntityTooLarge"
