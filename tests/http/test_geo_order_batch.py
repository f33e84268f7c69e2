"""Geo-queries, ordering and batch operations over HTTP, with Orion's answers."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

# Two points 1,000 m apart along a meridian (1 km = 0.0089932 degrees of latitude on MongoDB's sphere)
BASE = (43.0, 141.0)
KM_NORTH = (43.0 + 1000 / 6378100.0 * 57.29577951308232, 141.0)


async def seed(client: TestClient, entities: list[dict]) -> None:
    r = await client.post("/v2/op/update", json={"actionType": "append", "entities": entities})
    assert r.status == 204, await r.text()


async def ids(client: TestClient, query: str) -> list[str]:
    r = await client.get(f"/v2/entities?{query}&options=keyValues&attrs=none&limit=1000")
    assert r.status == 200, await r.text()
    return [e["id"] for e in await r.json()]


def point(eid: str, lat: float, lon: float) -> dict:
    return {"id": eid, "type": "P", "loc": {"type": "geo:point", "value": f"{lat}, {lon}"}}


# ---- geo -------------------------------------------------------------------------------------


@pytest.fixture
async def located(client: TestClient) -> TestClient:
    await seed(
        client,
        [
            point("base", *BASE),
            point("north1km", *KM_NORTH),
            {"id": "line", "type": "P", "loc": {"type": "geo:line", "value": ["42.9, 140.9", "43.1, 141.1"]}},
            {"id": "box", "type": "P", "loc": {"type": "geo:box", "value": ["42.95, 140.95", "43.05, 141.05"]}},
            {
                "id": "poly",
                "type": "P",
                "loc": {"type": "geo:polygon", "value": ["44, 142", "44, 143", "45, 143", "45, 142", "44, 142"]},
            },
            {
                "id": "json",
                "type": "P",
                "loc": {"type": "geo:json", "value": {"type": "Point", "coordinates": [141.5, 43.5]}},
            },
            {
                "id": "feature",
                "type": "P",
                "loc": {
                    "type": "geo:json",
                    "value": {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [150.0, 10.0]},
                        "properties": {},
                    },
                },
            },
            {"id": "nowhere", "type": "P", "temp": {"value": 1}},
        ],
    )
    return client


async def test_near_max_distance_is_on_the_sphere_in_metres(located):
    assert await ids(
        located, "georel=near;maxDistance:1010&geometry=point&coords=43.0,141.0&type=P&idPattern=^(base|north1km)$"
    ) == [
        "base",
        "north1km",
    ]
    assert await ids(
        located, "georel=near;maxDistance:990&geometry=point&coords=43.0,141.0&idPattern=^(base|north1km)$"
    ) == ["base"]


async def test_near_min_distance_and_default_order_by_distance(located):
    got = await ids(
        located,
        "georel=near;minDistance:500;maxDistance:200000&geometry=point&coords=43.0,141.0&idPattern=^(north1km|json)$",
    )
    assert got == ["north1km", "json"]


async def test_covered_by_polygon_and_box(located):
    box = "georel=coveredBy&geometry=box&coords=42.9,140.9;43.02,141.02"
    assert await ids(located, box) == ["base", "north1km"]
    poly = "georel=coveredBy&geometry=polygon&coords=42.9,140.9;42.9,141.2;43.2,141.2;43.2,140.9;42.9,140.9"
    assert await ids(located, poly) == ["base", "north1km", "line", "box"]


async def test_intersects_with_point_line_and_box(located):
    assert await ids(located, "georel=intersects&geometry=point&coords=43.0,141.0") == ["base", "line", "box"]
    assert await ids(located, "georel=intersects&geometry=line&coords=43.6,140.0;43.6,142.0") == []
    assert await ids(located, "georel=intersects&geometry=line&coords=43.5,140.0;43.5,142.0") == ["json"]
    assert await ids(located, "georel=intersects&geometry=box&coords=44.5,142.5;46,144") == ["poly"]


async def test_equals_and_disjoint(located):
    assert await ids(located, "georel=equals&geometry=point&coords=43.5,141.5") == ["json"]
    disjoint = await ids(located, "georel=disjoint&geometry=box&coords=42.0,140.0;43.2,141.2")
    assert disjoint == ["poly", "json", "feature"]  # entities without a location never match


async def test_order_by_geo_distance(located):
    got = await ids(
        located,
        "georel=near;maxDistance:5000000&geometry=point&coords=44.5,142.5&orderBy=geo:distance&idPattern=^(base|json|poly)$",
    )
    assert got == ["poly", "json", "base"]


@pytest.mark.parametrize(
    "query, description",
    [
        (
            "georel=near&geometry=point&coords=1,2",
            "Invalid query: georel /near/ without either minDistance nor maxDistance",
        ),
        (
            "georel=near;maxDistance:10&geometry=box&coords=1,2;3,4",
            "Invalid query: georel /near/ used with geometry different than point",
        ),
        (
            "georel=coveredBy&geometry=point&coords=1,2",
            "Invalid query: point geometry cannot be used with coveredBy georel",
        ),
        ("georel=within&geometry=point&coords=1,2", "Invalid query: Invalid modifier in georel parameter"),
        (
            "georel=intersects&geometry=circle&coords=1,2",
            "Invalid query: error parsing geometry: Invalid selector in geometry specification",
        ),
        ("georel=intersects&geometry=polygon&coords=1,2;3,4;5,6", "Invalid query: Too few coordinates for polygon"),
        (
            "georel=intersects&geometry=polygon&coords=1,2;3,4;5,6;7,8",
            "Invalid query: First and last point in polygon not the same",
        ),
        ("georel=intersects&geometry=box&coords=1,2", "Invalid query: invalid number of coordinates for /box/"),
        ("georel=intersects&geometry=point&coords=1,x", "Invalid query: invalid coordinates"),
        ("geometry=point&coords=1,2;3,4", "Invalid query: invalid number of coordinates for /point/"),
        ("geometry=point&coords=1,2,3", "Invalid query: invalid point in URI param /coords/"),
        ("geometry=point&coords=1;3,4", "Invalid query: invalid point in URI param /coords/"),
        ("geometry=line&coords=1,2;3,4;5.6", "Invalid query: invalid point in URI param /coords/"),
        ("georel=intersects&geometry=point", "Invalid query: URI param /geometry/ used without /coords/"),
        ("georel=intersects&coords=1,2", "Invalid query: URI param /coords/ used without /geometry/"),
        (
            "georel=coveredBy;maxDistance:4&geometry=box&coords=1,2;3,4",
            "Invalid query: maxDistance erroneously used with georel /coveredBy/",
        ),
    ],
)
async def test_malformed_geo_queries_are_400(client: TestClient, query: str, description: str):
    r = await client.get(f"/v2/entities?{query}")
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}


@pytest.mark.parametrize(
    "loc, detail",
    [
        ({"type": "geo:point", "value": "91, 0"}, "geo coordinates format error [see Orion user manual]: 91, 0"),
        ({"type": "geo:line", "value": ["1, 2"]}, "geo:line uses at least 2 coordinates"),
        ({"type": "geo:box", "value": ["1, 2", "3, 4", "5, 6"]}, "geo:box uses exactly 2 coordinates"),
        (
            {"type": "geo:polygon", "value": ["1, 2", "3, 4", "5, 6", "7, 8"]},
            "geo:polygon first and last coordinates must match",
        ),
        ({"type": "geo:line", "value": "1, 2"}, "geo:line, geo:box and geo:polygon needs array of strings as value"),
        ({"type": "geo:json", "value": {"type": "Feature"}}, "geometry in Feature not found"),
    ],
)
async def test_malformed_locations_are_400_and_create_nothing(client: TestClient, loc: dict, detail: str):
    r = await client.post("/v2/entities", json={"id": "G", "type": "P", "loc": loc})
    assert r.status == 400
    body = await r.json()
    assert body["error"] == "BadRequest"
    assert body["description"] == f"error parsing location attribute: {detail}"
    assert (await client.get("/v2/entities/G")).status == 404


async def test_second_location_is_413_unless_ignore_type(client: TestClient):
    two = {"id": "G", "a": {"type": "geo:point", "value": "1, 2"}, "b": {"type": "geo:point", "value": "3, 4"}}
    r = await client.post("/v2/entities", json=two)
    assert r.status == 413
    assert (await r.json())["error"] == "NoResourcesAvailable"
    two["b"]["metadata"] = {"ignoreType": {"type": "Boolean", "value": True}}
    assert (await client.post("/v2/entities", json=two)).status == 201
    assert await ids(client, "georel=near;maxDistance:10&geometry=point&coords=1,2") == ["G"]
    assert await ids(client, "georel=near;maxDistance:10&geometry=point&coords=3,4") == []


# ---- ordering and paging -----------------------------------------------------------------------


async def test_mixed_types_follow_orions_order_and_reverse(client: TestClient):
    await seed(
        client,
        [
            {"id": "bool", "v": {"value": True}},
            {"id": "arr", "v": {"value": [1]}},
            {"id": "obj", "v": {"value": {"a": 1}}},
            {"id": "str", "v": {"value": "x"}},
            {"id": "num", "v": {"value": 5}},
            {"id": "null", "v": {"value": None}},
            {"id": "missing", "w": {"value": 1}},
        ],
    )
    up = await ids(client, "orderBy=v")
    assert up == ["null", "missing", "num", "str", "obj", "arr", "bool"]
    down = await ids(client, "orderBy=!v")
    assert down == ["bool", "arr", "obj", "str", "num", "null", "missing"]


async def test_several_keys_builtins_and_dotted_paths(client: TestClient):
    await seed(
        client,
        [
            {"id": "c", "type": "B", "g": {"value": 1}, "s": {"value": {"k": 3}}},
            {"id": "a", "type": "B", "g": {"value": 2}, "s": {"value": {"k": 1}}},
            {"id": "b", "type": "A", "g": {"value": 1}, "s": {"value": {"k": 2}}},
        ],
    )
    assert await ids(client, "orderBy=g,!id") == ["c", "b", "a"]
    assert await ids(client, "orderBy=type,id") == ["b", "a", "c"]
    assert await ids(client, "orderBy=!dateCreated") == ["b", "a", "c"]
    assert await ids(client, "orderBy=s.k") == ["a", "b", "c"]


async def test_paging_on_ties_never_repeats_or_skips(client: TestClient):
    await seed(client, [{"id": f"E{i:02d}", "tie": {"value": i % 3}} for i in range(57)])
    seen: list[str] = []
    for offset in range(0, 60, 10):
        r = await client.get(f"/v2/entities?orderBy=tie&limit=10&offset={offset}&options=count,keyValues")
        assert r.headers["Fiware-Total-Count"] == "57"
        seen += [e["id"] for e in await r.json()]
    assert len(seen) == 57 and len(set(seen)) == 57


# ---- batch update ------------------------------------------------------------------------------


async def batch(client: TestClient, action: str, entities: list[dict], options: str = ""):
    url = "/v2/op/update" + (f"?options={options}" if options else "")
    return await client.post(url, json={"actionType": action, "entities": entities})


@pytest.fixture
async def two(client: TestClient) -> TestClient:
    await seed(client, [{"id": "E1", "type": "T", "A": {"value": 1}}, {"id": "E2", "type": "T", "A": {"value": 2}}])
    return client


@pytest.mark.parametrize(
    "entities, status, error, description",
    [
        (
            [{"id": "E3", "type": "T", "A": {"value": 1}}, {"id": "E4", "type": "T", "A": {"value": 1}}],
            404,
            "NotFound",
            "do not exist: E3/T - [entity itself], E4/T [entity itself]",
        ),
        (
            [{"id": "E1", "type": "T", "A": {"value": 9}}, {"id": "E3", "type": "T", "A": {"value": 1}}],
            422,
            "PartialUpdate",
            "do not exist: E3/T - [entity itself]",
        ),
        (
            [
                {"id": "E1", "type": "T", "A": {"value": 9}, "C": {"value": 1}},
                {"id": "E2", "type": "T", "A": {"value": 9}},
            ],
            422,
            "PartialUpdate",
            "do not exist: E1/T - [ C ]",
        ),
        (
            [
                {"id": "E1", "type": "T", "A": {"value": 9}, "C": {"value": 1}},
                {"id": "E3", "type": "T", "A": {"value": 1}},
            ],
            422,
            "PartialUpdate",
            "do not exist: E1/T - [ C ], E3/T [entity itself]",
        ),
        (
            [{"id": "E1", "type": "T", "C": {"value": 1}}, {"id": "E2", "type": "T", "C": {"value": 1}}],
            422,
            "Unprocessable",
            "do not exist: E1/T - [ C ], E2/T - [ C ]",
        ),
    ],
)
async def test_update_partial_failures(two, entities, status, error, description):
    r = await batch(two, "update", entities)
    assert r.status == status
    assert await r.json() == {"error": error, "description": description}


async def test_update_applies_what_it_can(two):
    await batch(
        two, "update", [{"id": "E1", "type": "T", "A": {"value": 9}}, {"id": "E3", "type": "T", "A": {"value": 1}}]
    )
    assert (await (await two.get("/v2/entities/E1?options=keyValues")).json())["A"] == 9
    assert (await two.get("/v2/entities/E3")).status == 404


async def test_append_strict_reports_existing_attributes(two):
    r = await batch(
        two,
        "appendStrict",
        [{"id": "E1", "type": "T", "A": {"value": 5}, "G": {"value": 1}}, {"id": "E2", "type": "T", "B": {"value": 1}}],
    )
    assert r.status == 422
    assert await r.json() == {
        "error": "PartialUpdate",
        "description": "one or more of the attributes in the request already exist: E1/T - [ A ]",
    }
    e1 = await (await two.get("/v2/entities/E1?options=keyValues")).json()
    assert e1 == {"id": "E1", "type": "T", "A": 1, "G": 1}


async def test_replace_delete_and_sequential_semantics(two):
    assert (await batch(two, "replace", [{"id": "E1", "type": "T", "Z": {"value": 0}}])).status == 204
    assert await (await two.get("/v2/entities/E1?options=keyValues")).json() == {"id": "E1", "type": "T", "Z": 0}
    r = await batch(two, "DELETE", [{"id": "E2", "type": "T", "A": {}}, {"id": "E2", "type": "T"}])
    assert r.status == 204
    assert (await two.get("/v2/entities/E2")).status == 404


async def test_append_creates_with_key_values(client: TestClient):
    r = await batch(client, "append", [{"id": "K1", "type": "T", "n": 3, "s": "x"}], options="keyValues")
    assert r.status == 204
    assert await (await client.get("/v2/entities/K1")).json() == {
        "id": "K1",
        "type": "T",
        "n": {"type": "Number", "value": 3, "metadata": {}},
        "s": {"type": "Text", "value": "x", "metadata": {}},
    }


@pytest.mark.parametrize(
    "body, description",
    [
        ({"entities": []}, "Invalid JSON payload, mandatory field /actionType/ not found"),
        ({"actionType": "append"}, "Invalid JSON payload, mandatory field /entities/ not found"),
        (
            {"actionType": "upsert", "entities": [{"id": "E"}]},
            "invalid update action type: right ones are: append, appendStric, delete, replace, update",
        ),
        ({"actionType": "append", "entities": []}, "empty entities vector"),
        ({"actionType": "append", "entities": [{"type": "T"}]}, "nor /id/ nor /idPattern/ present"),
        ({"actionType": "append", "entities": [{"id": "ok"}, {"id": "bad id"}]}, "Invalid characters in entity id"),
        (
            {"actionType": "append", "entities": [{"id": "E"}], "extra": 1},
            "Unrecognized field in JSON payload: /extra/",
        ),
    ],
)
async def test_bad_batches_are_400_and_change_nothing(client: TestClient, body: dict, description: str):
    r = await client.post("/v2/op/update", json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}
    assert await (await client.get("/v2/entities")).json() == []


# ---- batch query -------------------------------------------------------------------------------


async def test_batch_query_alternatives_expression_and_projection(client: TestClient):
    await seed(
        client,
        [
            {"id": "R1", "type": "Room", "t": {"value": 20}},
            {"id": "R2", "type": "Room", "t": {"value": 30}},
            {"id": "C1", "type": "Car", "t": {"value": 40}},
        ],
    )
    body = {"entities": [{"id": "R1", "type": "Room"}, {"idPattern": "^C", "type": "Car"}], "attrs": ["t"]}
    r = await client.post("/v2/op/query?options=keyValues,count", json=body)
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "2"
    assert await r.json() == [{"id": "R1", "type": "Room", "t": 20}, {"id": "C1", "type": "Car", "t": 40}]
    body = {"entities": [{"idPattern": ".*"}], "expression": {"q": "t>25"}}
    r = await client.post("/v2/op/query?options=values&orderBy=!t", json=body)
    assert await r.json() == [[40], [30]]


@pytest.mark.parametrize(
    "body, description",
    [
        ({"metadata": ["x"]}, "Invalid JSON payload, no relevant fields found"),
        ({"entities": [{"idPattern": ".*", "temp": 1}]}, "no attributes allowed in Entity in this payload"),
        ({"expression": {"q": ""}}, "q is empty"),
        (
            {"expression": {"georel": "near"}},
            "partial geo expression: geometry, georel and coords have to be provided together",
        ),
        ({"entities": [{"idPattern": "("}]}, "Invalid regex for entity idPattern"),
        ({"bogus": 1}, "Invalid JSON payload, no relevant fields found"),  # checked before the members
    ],
)
async def test_bad_batch_queries_are_400(client: TestClient, body: dict, description: str):
    r = await client.post("/v2/op/query", json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": description}
