"""`Accept` and `Content-Type` read as Orion reads them: unknown Accept ranges dropped, `q` the only
parameter that may come first, a malformed one a 400 naming the fault, 406 when no known range is
left; Content-Type compared as sent up to its first `;`."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from broker.http.accept import accepted_ranges
from broker.ngsi.errors import NgsiError


def test_known_ranges_are_kept_in_header_order_and_unknown_ones_dropped() -> None:
    assert accepted_ranges("text/html, application/json;q=0.9, */*;q=0.1") == ["application/json", "*/*"]
    assert accepted_ranges("text/plain, application/json;q=0.9;charset=UTF-8") == ["text/plain", "application/json"]
    assert accepted_ranges("application/json,") == ["application/json"]
    assert accepted_ranges("application/json; q=1") == ["application/json"]


@pytest.mark.parametrize(
    ("header", "status", "description"),
    [
        ("", 400, "empty accept header"),
        ("application/json; charset=utf-8", 400, "q missing in accept header"),
        ("application/json;level=1", 400, "q missing in accept header"),
        ("application/json;q", 400, "missing equal-sign after q in accept header"),
        ("application/json;q=", 400, "qvalue in accept header is missing"),
        ("application/json;q=high", 400, "qvalue in accept header is not a number"),
        ("application/json;q=1_0", 400, "qvalue in accept header is not a number"),
        ("text/html", 406, "no acceptable mime-type in accept header"),
        ("Application/JSON", 406, "no acceptable mime-type in accept header"),
        ("text/html, image/jpeg; charset=UTF-8", 406, "no acceptable mime-type in accept header"),
    ],
)
def test_malformed_or_unknown_accept_is_refused_with_orions_text(header: str, status: int, description: str) -> None:
    with pytest.raises(NgsiError) as exc:
        accepted_ranges(header)
    assert (exc.value.status, exc.value.description) == (status, description)


def test_the_last_faulty_range_is_the_one_reported() -> None:
    with pytest.raises(NgsiError) as exc:
        accepted_ranges("application/json;x=1, text/plain;q=")
    assert exc.value.description == "qvalue in accept header is missing"


async def test_accept_with_a_parameter_before_q_is_400_and_creates_nothing(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "E"}, headers={"Accept": "application/json; charset=utf-8"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "q missing in accept header"}
    r = await client.get("/v2/entities")
    assert await r.json() == []


async def test_accept_with_q_then_extensions_is_served(client: TestClient) -> None:
    r = await client.get("/v2/entities", headers={"Accept": "text/plain, application/json;q=0.9;charset=UTF-8"})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"


async def test_bad_service_path_wins_over_a_bad_accept(client: TestClient) -> None:
    r = await client.get("/v2/entities", headers={"Accept": "text/html", "Fiware-ServicePath": "a"})
    assert r.status == 400
    assert (await r.json())["description"].startswith("Only /absolute/ Service Paths allowed")


# ---- Content-Type, compared as Orion compares it -------------------------------------------------


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/json+x", "application/jsonx"])
async def test_content_type_is_compared_as_sent_up_to_the_semicolon(client: TestClient, content_type: str) -> None:
    r = await client.post("/v2/entities", data=b'{"id":"E"}', headers={"Content-Type": content_type})
    assert r.status == 415
    assert await r.json() == {
        "error": "UnsupportedMediaType",
        "description": f"not supported content type: {content_type}",
    }
    assert await (await client.get("/v2/entities")).json() == []


async def test_content_type_parameters_are_ignored(client: TestClient) -> None:
    r = await client.post(
        "/v2/entities", data=b'{"id":"E"}', headers={"Content-Type": "application/json; charset=ISO-8859-1"}
    )
    assert r.status == 201


async def test_empty_content_type_is_content_type_not_used(client: TestClient) -> None:
    r = await client.post("/v2/entities", data=b'{"id":"E"}', headers={"Content-Type": ""})
    assert r.status == 415
    assert await r.json() == {
        "error": "UnsupportedMediaType",
        "description": "Content-Type header not used, default application/octet-stream is not supported",
    }
    r = await client.get("/v2/entities", headers={"Content-Type": ""})
    assert r.status == 200
