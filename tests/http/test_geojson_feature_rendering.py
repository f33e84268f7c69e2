"""A `geo:json` Feature or FeatureCollection is stored whole but read back as its geometry, in
every read and in notifications, as Orion 4 does; `ignoreType: true` shows the whole value."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.receivers import Receiver

POINT = {"type": "Point", "coordinates": [-3.6127119, 40.5390197]}
FEATURE = {"type": "Feature", "geometry": POINT, "properties": {"label": "here"}}
COLLECTION = {"type": "FeatureCollection", "features": [FEATURE]}
NEAR = {"georel": "near;maxDistance:1", "geometry": "point", "coords": "40.5390197,-3.6127119"}
IGNORE = {"ignoreType": {"type": "Boolean", "value": True}}


async def create(client: TestClient, value: Any, metadata: dict[str, Any] | None = None) -> None:
    attr: dict[str, Any] = {"type": "geo:json", "value": value}
    if metadata:
        attr["metadata"] = metadata
    r = await client.post("/v2/entities", json={"id": "E", "type": "T", "location": attr})
    assert r.status == 201, await r.text()


async def get_json(client: TestClient, path: str, **params: str) -> Any:
    r = await client.get(path, params=params)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_feature_reads_back_as_its_geometry_everywhere(client: TestClient) -> None:
    await create(client, FEATURE)
    shown = {"type": "geo:json", "value": POINT, "metadata": {}}
    assert await get_json(client, "/v2/entities/E") == {"id": "E", "type": "T", "location": shown}
    assert await get_json(client, "/v2/entities", **NEAR) == [{"id": "E", "type": "T", "location": shown}]
    assert await get_json(client, "/v2/entities/E", options="keyValues") == {"id": "E", "type": "T", "location": POINT}
    assert await get_json(client, "/v2/entities/E", options="values", attrs="location") == [POINT]
    assert await get_json(client, "/v2/entities/E/attrs/location") == shown
    assert await get_json(client, "/v2/entities/E/attrs/location/value") == POINT
    r = await client.post("/v2/op/query", json={"entities": [{"id": "E"}]})
    assert (await r.json())[0]["location"] == shown


async def test_feature_collection_reads_back_as_its_feature_geometry(client: TestClient) -> None:
    await create(client, COLLECTION)
    assert (await get_json(client, "/v2/entities/E", options="keyValues"))["location"] == POINT
    assert await get_json(client, "/v2/entities", attrs="id", **NEAR) == [{"id": "E", "type": "T"}]


async def test_ignore_type_shows_the_whole_feature_and_is_no_location(client: TestClient) -> None:
    await create(client, FEATURE, IGNORE)
    attr = await get_json(client, "/v2/entities/E/attrs/location")
    assert attr == {"type": "geo:json", "value": FEATURE, "metadata": IGNORE}
    assert await get_json(client, "/v2/entities", **NEAR) == []


async def test_the_whole_feature_stays_stored(client: TestClient) -> None:
    await create(client, FEATURE)
    # marked informative, the whole Feature shows, properties included
    r = await client.put(
        "/v2/entities/E/attrs/location", json={"type": "geo:json", "value": FEATURE, "metadata": IGNORE}
    )
    assert r.status == 204, await r.text()
    assert (await get_json(client, "/v2/entities/E", options="keyValues"))["location"] == FEATURE
    # and back to a plain Point
    r = await client.patch(
        "/v2/entities/E/attrs",
        params={"options": "overrideMetadata"},
        json={"location": {"type": "geo:json", "value": POINT}},
    )
    assert r.status == 204, await r.text()
    assert (await get_json(client, "/v2/entities/E", options="keyValues"))["location"] == POINT


async def test_notifications_carry_the_geometry(client: TestClient, receiver: Receiver) -> None:
    sub = {"subject": {"entities": [{"idPattern": ".*"}]}, "notification": {"http": {"url": receiver.url}}}
    r = await client.post("/v2/subscriptions", json=sub)
    assert r.status == 201, await r.text()
    await create(client, FEATURE)
    await receiver.wait_for(1)
    assert receiver.bodies[0]["data"][0]["location"] == {"type": "geo:json", "value": POINT, "metadata": {}}
