"""Bad registrations through HTTP: Orion's 400 (or 501) and nothing stored.

Runs on SQLite by default and on MongoDB with `-p tests.mongo_http`; the check by check texts and
order are tests/registrations/test_parse.py's, here each refusal must leave the store untouched.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

ENTITIES = [{"id": "E1", "type": "T"}]
GOOD: dict[str, Any] = {
    "dataProvided": {"entities": ENTITIES, "attrs": ["a"]},
    "provider": {"http": {"url": "http://cp.example/v2"}},
}


def _url(url: Any) -> dict[str, Any]:
    return {**GOOD, "provider": {"http": {"url": url}}}


def _mode(mode: Any) -> dict[str, Any]:
    return {**GOOD, "provider": {"http": {"url": "http://cp.example"}, "supportedForwardingMode": mode}}


def _provided(**data_provided: Any) -> dict[str, Any]:
    return {**GOOD, "dataProvided": data_provided}


BAD = [
    # URLs Orion's parseUrl refuses: only http(s), a host, a port in range
    (_url("cp.example/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("ftp://cp.example/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("HTTP://cp.example/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://[::1]:8080/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://my_host/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://user@cp.example/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://cp.example:/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://cp.example:0/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://cp.example:65536/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://cp.example:port/v2"), 400, "/url/ field of /http/ is invalid"),
    (_url("http://[::1"), 400, "/url/ field of /http/ is invalid"),
    (_url(""), 400, "/url/ field of /http/ cannot be the empty string"),
    (_url(["http://cp.example"]), 400, "/url/ field of /http/ must be a JSON string"),
    # forwarding modes: all, query, update, none and nothing else (case included)
    (_mode("ALL"), 400, "invalid value of /supportedForwardingMode/"),
    (_mode("both"), 400, "invalid value of /supportedForwardingMode/"),
    (_mode(""), 400, "invalid value of /supportedForwardingMode/"),
    (_mode(None), 400, "/supportedForwardingMode/ must be a JSON string"),
    (_mode(["query"]), 400, "/supportedForwardingMode/ must be a JSON string"),
    # entities and attrs Orion rejects
    (
        _provided(entities=[{"id": "E1", "idPattern": ".*"}]),
        400,
        "/entities/ vector item has both /id/ and /idPattern/",
    ),
    (_provided(entities=[{"type": "T"}]), 400, "/entities/ vector item does not have /id/ nor /idPattern/"),
    (_provided(entities=[{"idPattern": "E.*"}], attrs=["a"]), 501, "Unsupported idPattern"),
    (_provided(entities=[{"idPattern": ".*", "typePattern": "T.*"}]), 501, "Unsupported typePattern"),
    (_provided(entities=[{"idPattern": "["}], attrs=["a"]), 400, "Invalid regex for entity idPattern"),
    (_provided(entities=ENTITIES, attrs="a"), 400, "the field /attrs/ must be a JSON array"),
    (_provided(entities=ENTITIES, attrs=["a", ""]), 400, "empty string found in string vector /attrs/"),
    (_provided(entities=ENTITIES, attrs=[{"name": "a"}]), 400, "only JSON Strings allowed in string vector /attrs/"),
    (_provided(), 400, "/dataProvided/ is empty"),
    # the rest of the body
    (
        {**GOOD, "provider": {"http": {"url": "http://cp.example"}, "legacyForwarding": "true"}},
        400,
        "the field /legacyForwarding/ must be a boolean",
    ),
    ({**GOOD, "expires": "2040-13-01T00:00:00Z"}, 400, "the field /expires/ has an invalid format"),
    ({**GOOD, "status": "expired"}, 400, "invalid value for /status/"),
    ({**GOOD, "description": "<script>"}, 400, "forbidden characters in description"),
]


@pytest.mark.parametrize(("body", "status", "description"), BAD)
async def test_a_registration_orion_refuses_gets_its_error_and_stores_nothing(
    client: TestClient, body: dict[str, Any], status: int, description: str
) -> None:
    r = await client.post("/v2/registrations", json=body)
    assert r.status == status
    assert "Location" not in r.headers
    error = "NotImplemented" if status == 501 else "BadRequest"
    assert await r.json() == {"error": error, "description": description}
    listed = await client.get("/v2/registrations?options=count")
    assert listed.status == 200
    assert await listed.json() == [] and listed.headers["Fiware-Total-Count"] == "0"


async def test_after_refusals_a_good_registration_is_the_only_one_stored(client: TestClient) -> None:
    for body, _, _ in BAD[:5]:
        assert (await client.post("/v2/registrations", json=body)).status == 400
    r = await client.post("/v2/registrations", json=GOOD)
    assert r.status == 201
    listed = await (await client.get("/v2/registrations")).json()
    assert [reg["id"] for reg in listed] == [r.headers["Location"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("url", ["mqtt://broker:1883", "http://cp.example:8080abc/v2", "https://cp.example/v2/"])
async def test_urls_orions_parser_takes_are_stored_verbatim(client: TestClient, url: str) -> None:
    """Orion's parseUrl takes `mqtt://` (for notifications) and reads a port as atoi does."""
    r = await client.post("/v2/registrations", json=_url(url))
    assert r.status == 201, await r.text()
    shown = await (await client.get(r.headers["Location"])).json()
    assert shown["provider"]["http"]["url"] == url
