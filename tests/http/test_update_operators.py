"""Update operators ($inc $mul $min $max $push $addToSet $pull $pullAll $set $unset) over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient


async def seed(client: TestClient, attrs: dict[str, Any]) -> None:
    r = await client.post("/v2/entities", json={"id": "E", "type": "T", **attrs})
    assert r.status == 201, await r.text()


async def value(client: TestClient, name: str = "A") -> Any:
    r = await client.get(f"/v2/entities/E/attrs/{name}")
    assert r.status == 200, await r.text()
    return (await r.json())["value"]


async def keyvalues(client: TestClient) -> Any:
    r = await client.get("/v2/entities/E", params={"options": "keyValues"})
    assert r.status == 200
    return await r.json()


@pytest.mark.parametrize(
    ("before", "atype", "op", "after"),
    [
        (10, "Number", {"$inc": 2}, 12),
        (10, "Number", {"$inc": -2.5}, 7.5),
        (3, "Number", {"$mul": 2}, 6),
        (0.1, "Number", {"$mul": 3}, 0.3),
        (2, "Number", {"$min": 1}, 1),
        (2, "Number", {"$min": 20}, 2),
        (2, "Number", {"$max": 10}, 10),
        (2, "Number", {"$max": 1}, 2),
        ("b", "Text", {"$min": "a"}, "a"),
        ("b", "Text", {"$max": "c"}, "c"),
        ([1, 2, 3], "Array", {"$push": 3}, [1, 2, 3, 3]),
        ([1, 2, 3], "Array", {"$push": {"$each": [4, 5]}}, [1, 2, 3, 4, 5]),
        ([1, 2, 3], "Array", {"$addToSet": 4}, [1, 2, 3, 4]),
        ([1, 2, 3], "Array", {"$addToSet": 3}, [1, 2, 3]),
        ([1, 2, 3, 2], "Array", {"$pull": 2}, [1, 3]),
        ([1, 2, 3], "Array", {"$pullAll": [2, 3]}, [1]),
        ({"X": 1, "Y": 2}, "Object", {"$set": {"Y": 20, "Z": 30}}, {"X": 1, "Y": 20, "Z": 30}),
        ({}, "Object", {"$set": {"X": 1}}, {"X": 1}),
        ({"X": 1, "Y": 2}, "Object", {"$set": "foo"}, "foo"),
        ({"X": 1, "Y": 2}, "Object", {"$unset": {"X": 1}}, {"Y": 2}),
        ({"X": 1, "Y": 2}, "Object", {"$unset": {"X": None, "Nope": 1}}, {"Y": 2}),
        ({"X": 1, "Y": 2}, "Object", {"$unset": "X"}, {"X": 1, "Y": 2}),
    ],
)
@pytest.mark.parametrize("route", ["patch_attrs", "post_attrs", "put_attr"])
async def test_operator_on_existing_attribute(
    client: TestClient, route: str, before: Any, atype: str, op: dict[str, Any], after: Any
) -> None:
    await seed(client, {"A": {"value": before, "type": atype}, "B": {"value": 1}})
    body = {"value": op, "type": atype}
    if route == "put_attr":
        r = await client.put("/v2/entities/E/attrs/A", json=body)
    elif route == "patch_attrs":
        r = await client.patch("/v2/entities/E/attrs", json={"A": body})
    else:
        r = await client.post("/v2/entities/E/attrs", json={"A": body})
    assert r.status == 204, await r.text()
    assert await value(client) == after
    assert await value(client, "B") == 1


async def test_inc_is_cumulative(client: TestClient) -> None:
    await seed(client, {"count": {"value": 0, "type": "Number"}})
    for _ in range(5):
        r = await client.patch("/v2/entities/E/attrs", json={"count": {"value": {"$inc": 1}, "type": "Number"}})
        assert r.status == 204
    assert await value(client, "count") == 5


@pytest.mark.parametrize(
    ("op", "created", "expected"),
    [
        ({"$inc": 4}, True, 4),
        ({"$mul": 1000}, True, 0),
        ({"$min": 2}, True, 0),  # Orion's case 3814 min_operator_creation: compared with 0
        ({"$min": -2}, True, -2),
        ({"$max": 10}, True, 10),  # max_operator_creation
        ({"$max": -10}, True, 0),
        ({"$push": 4}, True, [4]),
        ({"$push": {"$each": [1, 2]}}, True, [1, 2]),
        ({"$addToSet": 4}, True, [4]),
        ({"$set": {"X": 1}}, True, {"X": 1}),
        ({"$pull": 1}, False, None),
        ({"$pullAll": [1]}, False, None),
        ({"$unset": {"X": 1}}, False, None),
    ],
)
async def test_operator_on_entity_creation(
    client: TestClient, op: dict[str, Any], created: bool, expected: Any
) -> None:
    r = await client.post("/v2/entities", json={"id": "E", "type": "T", "A": {"value": op}, "B": {"value": 3}})
    assert r.status == 201
    body = await keyvalues(client)
    if created:
        assert body == {"id": "E", "type": "T", "A": expected, "B": 3}
    else:
        assert body == {"id": "E", "type": "T", "B": 3}


@pytest.mark.parametrize(
    ("op", "expected"),
    [({"$inc": 4}, {"A": 4}), ({"$push": "x"}, {"A": ["x"]}), ({"$unset": {"k": 1}}, {})],
)
async def test_operator_on_replace_all_attributes(client: TestClient, op: dict[str, Any], expected: Any) -> None:
    await seed(client, {"A": {"value": 100}, "B": {"value": 2}})
    r = await client.put("/v2/entities/E/attrs", json={"A": {"value": op}})
    assert r.status == 204
    assert await keyvalues(client) == {"id": "E", "type": "T", **expected}


async def test_operator_on_new_attribute_through_post_attrs(client: TestClient) -> None:
    await seed(client, {"B": {"value": 1}})
    r = await client.post("/v2/entities/E/attrs", json={"A": {"value": {"$inc": 3}, "type": "Number"}})
    assert r.status == 204
    assert await value(client) == 3


async def test_operator_on_missing_attribute_through_patch_is_unprocessable(client: TestClient) -> None:
    await seed(client, {"B": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", json={"A": {"value": {"$inc": 3}, "type": "Number"}})
    assert r.status == 422
    assert await r.json() == {"error": "Unprocessable", "description": "do not exist: E - [ A ]"}
    assert await keyvalues(client) == {"id": "E", "type": "T", "B": 1}


async def test_upsert_applies_operator_to_existing_value(client: TestClient) -> None:
    await seed(client, {"A": {"value": 10, "type": "Number"}})
    r = await client.post(
        "/v2/entities",
        params={"options": "upsert"},
        json={"id": "E", "type": "T", "A": {"value": {"$inc": 5}, "type": "Number"}},
    )
    assert r.status == 204
    assert await value(client) == 15


@pytest.mark.parametrize(
    ("before", "op"),
    [
        ("foo", {"$inc": 1}),
        (1, {"$inc": "foo"}),
        ("foo", {"$mul": 2}),
        (5, {"$push": 1}),
        ("foo", {"$set": {"X": 1}}),
        (5, {"$pull": 1}),
    ],
)
async def test_operator_type_clash_is_400_and_changes_nothing(
    client: TestClient, before: Any, op: dict[str, Any]
) -> None:
    """Orion answers 500 with this text; client input never gets a 5xx here."""
    await seed(client, {"A": {"value": before}})
    r = await client.patch("/v2/entities/E/attrs", json={"A": {"value": op}})
    assert r.status == 400
    body = await r.json()
    assert body["error"] == "BadRequest"
    assert body["description"].startswith("Database Error &#40;")
    assert "(" not in body["description"] and ")" not in body["description"]
    assert await value(client) == before


async def test_datetime_max_on_existing_attribute(client: TestClient) -> None:
    await seed(client, {"A": {"value": "2020-01-01T00:00:00Z", "type": "DateTime"}})
    r = await client.patch(
        "/v2/entities/E/attrs", json={"A": {"value": {"$max": "2021-06-01T12:00:00Z"}, "type": "DateTime"}}
    )
    assert r.status == 204
    assert await value(client) == "2021-06-01T12:00:00.000Z"


async def test_datetime_max_with_earlier_date_keeps_value(client: TestClient) -> None:
    await seed(client, {"A": {"value": "2020-01-01T00:00:00Z", "type": "DateTime"}})
    r = await client.patch(
        "/v2/entities/E/attrs", json={"A": {"value": {"$max": "2019-01-01T00:00:00Z"}, "type": "DateTime"}}
    )
    assert r.status == 204
    assert await value(client) == "2020-01-01T00:00:00.000Z"


async def test_datetime_min_on_creation_uses_epoch(client: TestClient) -> None:
    r = await client.post(
        "/v2/entities",
        json={"id": "E", "type": "T", "A": {"value": {"$min": "2020-01-01T00:00:00Z"}, "type": "DateTime"}},
    )
    assert r.status == 201
    assert await value(client) == "1970-01-01T00:00:00.000Z"


async def test_set_and_unset_combined(client: TestClient) -> None:
    await seed(client, {"A": {"value": {"X": 1, "Y": 2}, "type": "Object"}})
    r = await client.put(
        "/v2/entities/E/attrs/A", json={"value": {"$set": {"Y": 20, "Z": 30}, "$unset": {"X": 1}}, "type": "Object"}
    )
    assert r.status == 204
    assert await value(client) == {"Y": 20, "Z": 30}


async def test_push_each_with_position(client: TestClient) -> None:
    await seed(client, {"A": {"value": [1, 2, 3], "type": "Array"}})
    r = await client.put(
        "/v2/entities/E/attrs/A", json={"value": {"$push": {"$each": [-1, 0], "$position": 0}}, "type": "Array"}
    )
    assert r.status == 204
    assert await value(client) == [-1, 0, 1, 2, 3]


async def test_operator_lookalike_with_two_keys_is_a_plain_value(client: TestClient) -> None:
    await seed(client, {"A": {"value": 1}})
    r = await client.patch("/v2/entities/E/attrs", json={"A": {"value": {"x": 1, "y": 2}}})
    assert r.status == 204
    assert await value(client) == {"x": 1, "y": 2}


async def test_operator_without_type_keeps_a_number_a_number(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "N1", "type": "T", "depth": {"type": "Number", "value": 33}})
    assert r.status == 201
    r = await client.patch("/v2/entities/N1/attrs", json={"depth": {"value": {"$inc": 2}}})
    assert r.status == 204
    r = await client.get("/v2/entities/N1/attrs/depth")
    assert await r.json() == {"type": "Number", "value": 35, "metadata": {}}


async def test_min_on_a_new_attribute_of_an_existing_entity_sets_the_operand(client: TestClient) -> None:
    """Only creation and replacement compare with 0; appending to an entity follows MongoDB's $min."""
    await seed(client, {"B": {"value": 3}})
    r = await client.post("/v2/entities/E/attrs", json={"A": {"value": {"$min": 7}}, "C": {"value": {"$max": -7}}})
    assert r.status == 204
    assert await keyvalues(client) == {"id": "E", "type": "T", "B": 3, "A": 7, "C": -7}
