"""Orion 4.7's metadata `TextUnrestricted`: an attribute whose request carries it with the value
`true` may hold forbidden characters in its value while keeping its own type; any other value,
or its absence, leaves the usual check (Orion issue #4792)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

FORBIDDEN = "<b>it's (x=1);</b>"
REFUSED = {"error": "BadRequest", "description": "Invalid characters in attribute value"}


def unrestricted(value: Any = True, type_: str = "Boolean") -> dict[str, Any]:
    return {"TextUnrestricted": {"type": type_, "value": value}}


async def kv(client: TestClient, eid: str) -> Any:
    r = await client.get(f"/v2/entities/{eid}", params={"options": "keyValues"})
    assert r.status == 200, await r.text()
    return await r.json()


async def test_metadata_true_lets_the_value_hold_forbidden_characters_and_keeps_the_type(client: TestClient) -> None:
    body = {"id": "E", "A": {"type": "FunnyType", "value": FORBIDDEN, "metadata": unrestricted()}}
    r = await client.post("/v2/entities", json=body)
    assert r.status == 201, await r.text()
    r = await client.get("/v2/entities/E/attrs/A")
    assert await r.json() == {"type": "FunnyType", "value": FORBIDDEN, "metadata": unrestricted()}


async def test_compound_values_are_unrestricted_too(client: TestClient) -> None:
    body = {"id": "E", "A": {"value": {"html": [FORBIDDEN]}, "metadata": unrestricted(True, "Text")}}
    assert (await client.post("/v2/entities", json=body)).status == 201
    assert (await kv(client, "E"))["A"] == {"html": [FORBIDDEN]}


@pytest.mark.parametrize("value", [False, "true", 1, None])
async def test_any_value_but_true_keeps_the_check(client: TestClient, value: Any) -> None:
    body = {"id": "E", "A": {"value": FORBIDDEN, "metadata": unrestricted(value)}}
    r = await client.post("/v2/entities", json=body)
    assert r.status == 400
    assert await r.json() == REFUSED
    assert (await client.get("/v2/entities/E")).status == 404


async def test_the_metadata_counts_in_each_update_that_carries_it(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E", "A": {"value": "plain"}})).status == 201
    # without the metadata: refused, nothing changes
    r = await client.patch("/v2/entities/E/attrs", json={"A": {"value": FORBIDDEN}})
    assert (r.status, await r.json()) == (400, REFUSED)
    assert (await kv(client, "E"))["A"] == "plain"
    # with it set to true: accepted
    r = await client.patch("/v2/entities/E/attrs", json={"A": {"value": FORBIDDEN, "metadata": unrestricted()}})
    assert r.status == 204, await r.text()
    assert (await kv(client, "E"))["A"] == FORBIDDEN
    # set to false: refused again
    r = await client.put("/v2/entities/E/attrs/A", json={"value": FORBIDDEN + "!", "metadata": unrestricted(False)})
    assert (r.status, await r.json()) == (400, REFUSED)
    # an update without it is checked, whatever the stored metadata says
    r = await client.put("/v2/entities/E/attrs/A/value", json={"v": FORBIDDEN})
    assert (r.status, await r.json()) == (400, REFUSED)
    r = await client.post(
        "/v2/op/update", json={"actionType": "update", "entities": [{"id": "E", "A": {"value": "<"}}]}
    )
    assert (r.status, await r.json()) == (400, REFUSED)
    assert (await kv(client, "E"))["A"] == FORBIDDEN


async def test_batch_and_type_and_metadata_together(client: TestClient) -> None:
    entities = [
        {"id": "E1", "A": {"value": FORBIDDEN, "metadata": unrestricted()}},
        {"id": "E2", "A": {"type": "TextUnrestricted", "value": FORBIDDEN, "metadata": unrestricted()}},
    ]
    r = await client.post("/v2/op/update", json={"actionType": "append", "entities": entities})
    assert r.status == 204, await r.text()
    assert (await kv(client, "E1"))["A"] == FORBIDDEN
    assert (await kv(client, "E2"))["A"] == FORBIDDEN


async def test_the_metadata_does_not_free_other_metadata(client: TestClient) -> None:
    md = {**unrestricted(), "note": {"value": "it's"}}
    r = await client.post("/v2/entities", json={"id": "E", "A": {"value": FORBIDDEN, "metadata": md}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid characters in metadata value"}
