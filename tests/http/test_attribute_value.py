"""GET and PUT /v2/entities/{id}/attrs/{attr}/value: content negotiation and text/plain parsing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

VALUE = "/v2/entities/E/attrs/{}/value"
TEXT = {"Content-Type": "text/plain"}


async def seed(client: TestClient) -> None:
    r = await client.post(
        "/v2/entities",
        json={
            "id": "E",
            "s": {"value": "hello"},
            "n": {"value": 2.5},
            "i": {"value": 7.0},
            "b": {"value": True},
            "z": {"value": None},
            "o": {"value": {"k": [1, {"x": "y"}]}, "metadata": {"m": {"value": 1}}},
            "l": {"value": [1, "two"]},
            "d": {"type": "DateTime", "value": "2017-06-17T07:21:24.238Z"},
        },
    )
    assert r.status == 201, await r.text()


async def attr(client: TestClient, name: str) -> Any:
    r = await client.get(f"/v2/entities/E/attrs/{name}")
    assert r.status == 200
    return await r.json()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s", '"hello"'),
        ("n", "2.5"),
        ("i", "7"),
        ("b", "true"),
        ("z", "null"),
        ("d", "2017-06-17T07:21:24.238Z"),
    ],
)
async def test_get_scalar_value_is_text_plain(client: TestClient, name: str, text: str) -> None:
    await seed(client)
    r = await client.get(VALUE.format(name))
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain"
    assert await r.text() == text
    r = await client.get(VALUE.format(name), headers={"Accept": "text/plain"})
    assert r.status == 200
    assert await r.text() == text


@pytest.mark.parametrize("name", ["s", "n", "b", "z"])
async def test_get_scalar_value_accepting_only_json_is_406(client: TestClient, name: str) -> None:
    await seed(client)
    r = await client.get(VALUE.format(name), headers={"Accept": "application/json"})
    assert r.status == 406
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == {"error": "NotAcceptable", "description": "accepted MIME types: text/plain"}


@pytest.mark.parametrize(("name", "value"), [("o", {"k": [1, {"x": "y"}]}), ("l", [1, "two"])])
async def test_get_compound_value_is_json_by_default(client: TestClient, name: str, value: Any) -> None:
    await seed(client)
    for accept in (None, "*/*", "application/json"):
        r = await client.get(VALUE.format(name), headers={"Accept": accept} if accept else None)
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json"
        assert await r.json() == value


async def test_get_compound_value_as_text_plain_when_first_in_accept(client: TestClient) -> None:
    await seed(client)
    r = await client.get(VALUE.format("o"), headers={"Accept": "text/plain, application/json"})
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain"
    assert await r.text() == '{"k":[1,{"x":"y"}]}'


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
async def test_get_value_with_unacceptable_accept_is_406(client: TestClient, accept: str) -> None:
    await seed(client)
    r = await client.get(VALUE.format("o"), headers={"Accept": accept})
    assert r.status == 406
    # Orion drops the ranges it does not know while reading the header (rest.cpp acceptParse)
    assert await r.json() == {"error": "NotAcceptable", "description": "no acceptable mime-type in accept header"}


async def test_get_value_unknown_attribute_and_entity(client: TestClient) -> None:
    await seed(client)
    r = await client.get(VALUE.format("nope"))
    assert r.status == 404
    assert await r.json() == {"error": "NotFound", "description": "The entity does not have such an attribute"}
    r = await client.get("/v2/entities/Nope/attrs/s/value")
    assert r.status == 404
    assert await r.json() == {
        "error": "NotFound",
        "description": "The requested entity has not been found. Check type and id",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"hi there"', "hi there"),
        ('""', ""),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("null", None),
        ("NULL", None),
        ("42", 42),
        ("-3.25", -3.25),
        ("1e3", 1000),
    ],
)
async def test_put_text_plain_value(client: TestClient, body: str, expected: Any) -> None:
    await seed(client)
    r = await client.put(VALUE.format("n"), data=body.encode(), headers=TEXT)
    assert r.status == 204
    assert await r.read() == b""
    assert (await attr(client, "n"))["value"] == expected


async def test_put_value_keeps_type_and_metadata(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("o"), json={"new": True})
    assert r.status == 204
    assert await attr(client, "o") == {
        "type": "StructuredValue",
        "value": {"new": True},
        "metadata": {"m": {"type": "Number", "value": 1}},
    }
    assert (await client.put(VALUE.format("o"), data=b"5", headers=TEXT)).status == 204
    assert await attr(client, "o") == {
        "type": "StructuredValue",
        "value": 5,
        "metadata": {"m": {"type": "Number", "value": 1}},
    }


async def test_put_json_array_value(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), json=[1, 2, {"a": None}])
    assert r.status == 204
    assert (await attr(client, "s"))["value"] == [1, 2, {"a": None}]


@pytest.mark.parametrize("body", [b"5", b'"x"', b"true", b"null"])
async def test_put_json_scalar_value_is_rejected(client: TestClient, body: bytes) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), data=body, headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {
        "error": "BadRequest",
        "description": "Neither JSON Object nor JSON Array for attribute::value",
    }
    assert (await attr(client, "s"))["value"] == "hello"


async def test_put_invalid_json_value_is_parse_error(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), data=b"{bad", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {"error": "ParseError", "description": "Errors found in incoming JSON buffer"}
    assert (await attr(client, "s"))["value"] == "hello"


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ('"unterminated', "Missing citation-mark at end of string"),
        ("hello", "attribute value type not recognized"),
        ("12abc", "attribute value type not recognized"),
        ("tru", "attribute value type not recognized"),
        ('"a<b"', "Invalid characters in attribute value"),
        ('"x=1"', "Invalid characters in attribute value"),
    ],
)
async def test_put_text_plain_errors_change_nothing(client: TestClient, body: str, description: str) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), data=body.encode(), headers=TEXT)
    assert r.status == 400
    assert r.headers["Content-Type"] == "application/json"
    assert await r.json() == {"error": "BadRequest", "description": description}
    assert (await attr(client, "s"))["value"] == "hello"


async def test_put_json_value_with_forbidden_chars_in_string_leaf(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), json={"a": "<x>"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid characters in attribute value"}
    assert (await attr(client, "s"))["value"] == "hello"


async def test_put_value_on_datetime_attribute_parses_the_date(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("d"), data=b'"2020-01-01T01:00:00+01:00"', headers=TEXT)
    assert r.status == 204
    r = await client.get(VALUE.format("d"))
    assert await r.text() == "2020-01-01T00:00:00.000Z"


async def test_put_value_unknown_attribute_and_entity(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("nope"), data=b"1", headers=TEXT)
    assert r.status == 404
    assert await r.json() == {"error": "NotFound", "description": "The entity does not have such an attribute"}
    r = await client.put("/v2/entities/Nope/attrs/s/value", data=b"1", headers=TEXT)
    assert r.status == 404
    assert await r.json() == {
        "error": "NotFound",
        "description": "The requested entity has not been found. Check type and id",
    }


async def test_put_value_with_unsupported_content_type_is_415(client: TestClient) -> None:
    await seed(client)
    r = await client.put(VALUE.format("s"), data=b"<a/>", headers={"Content-Type": "application/xml"})
    assert r.status == 415
    assert await r.json() == {
        "error": "UnsupportedMediaType",
        "description": "not supported content type: application/xml",
    }
    assert (await attr(client, "s"))["value"] == "hello"


async def test_text_plain_body_on_json_route_is_415(client: TestClient) -> None:
    await seed(client)
    r = await client.patch("/v2/entities/E/attrs", data=b"5", headers=TEXT)
    assert r.status == 415
    assert await r.json() == {"error": "UnsupportedMediaType", "description": "not supported content type: text/plain"}
    assert (await attr(client, "n"))["value"] == 2.5
