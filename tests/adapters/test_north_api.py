"""Provisioning API in the FIWARE IoT Agent's shape: CRUD, tenancy headers, pagination, error bodies, durability."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.iot.north_api import build_north_app
from adapters.iot.provisioning_store import ProvisioningStore

H = {"Fiware-Service": "kaga", "Fiware-ServicePath": "/rivers"}
GROUP = {
    "apikey": "kaga-key",
    "cbroker": "http://cb:1026",
    "entity_type": "WaterLevelSensor",
    "resource": "/iot/d",
    "attributes": [{"object_id": "l", "name": "level", "type": "Number"}],
    "lazy": [{"name": "status", "type": "Text"}],
    "static_attributes": [{"name": "river", "type": "Text", "value": "Daishoji"}],
    "explicitAttrs": False,
}
DEVICE = {
    "device_id": "wl001",
    "entity_name": "urn:ngsi-ld:WaterLevel:001",
    "entity_type": "WaterLevelSensor",
    "protocol": "PDI-IoTA-UltraLight",
    "transport": "MQTT",
    "timezone": "Asia/Tokyo",
    "attributes": [{"object_id": "l", "name": "level", "type": "Number"}],
    "static_attributes": [
        {"name": "location", "type": "geo:json", "value": {"type": "Point", "coordinates": [136.3, 36.3]}}
    ],
}


async def _client(path: Path) -> TestClient:
    store = ProvisioningStore(str(path))
    store.open()
    client = TestClient(TestServer(build_north_app(store)))
    await client.start_server()
    return client


@pytest.fixture
async def north(tmp_path: Path) -> AsyncIterator[TestClient]:
    client = await _client(tmp_path / "iota.db")
    yield client
    await client.close()


async def test_create_then_list_service_groups_of_the_subservice(north: TestClient):
    r = await north.post("/iot/services", json={"services": [GROUP]}, headers=H)
    assert r.status == 201 and await r.json() == {}
    r = await north.get("/iot/services", headers=H)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    body = await r.json()
    assert body["count"] == 1
    assert body["services"][0] == {**GROUP, "service": "kaga", "subservice": "/rivers", "autoprovision": True}
    r = await north.get("/iot/services", headers={**H, "Fiware-ServicePath": "/other"})
    assert await r.json() == {"count": 0, "services": []}
    r = await north.get("/iot/services", headers={**H, "Fiware-ServicePath": "/*"})
    assert (await r.json())["count"] == 1


async def test_duplicate_group_is_409_duplicate_group_and_nothing_is_added(north: TestClient):
    await north.post("/iot/services", json={"services": [GROUP]}, headers=H)
    r = await north.post("/iot/services", json={"services": [{"apikey": "new", "entity_type": "T"}, GROUP]}, headers=H)
    assert r.status == 409
    assert await r.json() == {
        "name": "DUPLICATE_GROUP",
        "message": "A device configuration already exists for resource /iot/d and API Key kaga-key",
    }
    assert (await (await north.get("/iot/services", headers=H)).json())["count"] == 1


async def test_missing_tenancy_headers_are_400_missing_headers(north: TestClient):
    r = await north.get("/iot/devices", headers={"Fiware-Service": "kaga"})
    assert r.status == 400
    assert await r.json() == {
        "name": "MISSING_HEADERS",
        "message": 'Some headers were missing from the request: ["fiware-servicepath"]',
    }


@pytest.mark.parametrize("body", [{"services": [{"entity_type": "T"}]}, {"services": "x"}, {}, [1]])
async def test_invalid_group_body_is_400_wrong_syntax(north: TestClient, body: object):
    r = await north.post("/iot/services", json=body, headers=H)
    assert r.status == 400
    assert (await r.json())["name"] == "WRONG_SYNTAX"


async def test_invalid_json_is_400_wrong_syntax(north: TestClient):
    r = await north.post("/iot/devices", data=b"{", headers={**H, "Content-Type": "application/json"})
    assert r.status == 400
    assert await r.json() == {"name": "WRONG_SYNTAX", "message": "Wrong syntax in request: the body is not valid JSON"}


async def test_update_and_delete_group_by_resource_and_apikey(north: TestClient):
    await north.post("/iot/services", json={"services": [GROUP]}, headers=H)
    q = {"resource": "/iot/d", "apikey": "kaga-key"}
    r = await north.put("/iot/services", params=q, json={"entity_type": "River", "explicitAttrs": True}, headers=H)
    assert r.status == 204
    group = (await (await north.get("/iot/services", headers=H)).json())["services"][0]
    assert group["entity_type"] == "River" and group["explicitAttrs"] is True and group["cbroker"] == "http://cb:1026"
    r = await north.delete("/iot/services", params=q, headers=H)
    assert r.status == 204
    r = await north.delete("/iot/services", params=q, headers=H)
    assert r.status == 404
    assert (await r.json())["name"] == "DEVICE_GROUP_NOT_FOUND"


async def test_group_of_another_subservice_cannot_be_changed(north: TestClient):
    await north.post("/iot/services", json={"services": [GROUP]}, headers=H)
    r = await north.put(
        "/iot/services",
        params={"resource": "/iot/d", "apikey": "kaga-key"},
        json={"entity_type": "X"},
        headers={**H, "Fiware-ServicePath": "/elsewhere"},
    )
    assert r.status == 404


async def test_update_group_without_resource_and_apikey_is_400(north: TestClient):
    r = await north.put("/iot/services", params={"apikey": "kaga-key"}, json={}, headers=H)
    assert r.status == 400
    assert await r.json() == {
        "name": "MISSING_HEADERS",
        "message": 'Some headers were missing from the request: ["resource"]',
    }


async def test_device_crud(north: TestClient):
    r = await north.post("/iot/devices", json={"devices": [DEVICE]}, headers=H)
    assert r.status == 201 and await r.json() == {}
    r = await north.get("/iot/devices/wl001", headers=H)
    assert r.status == 200
    assert await r.json() == {**DEVICE, "service": "kaga", "service_path": "/rivers", "lazy": []}
    r = await north.put("/iot/devices/wl001", json={"timezone": "UTC", "attributes": []}, headers=H)
    assert r.status == 204
    device = await (await north.get("/iot/devices/wl001", headers=H)).json()
    assert device["timezone"] == "UTC" and device["attributes"] == [] and device["entity_name"] == DEVICE["entity_name"]
    r = await north.delete("/iot/devices/wl001", headers=H)
    assert r.status == 204
    r = await north.get("/iot/devices/wl001", headers=H)
    assert r.status == 404
    assert await r.json() == {"name": "DEVICE_NOT_FOUND", "message": "No device was found with id:wl001"}


async def test_device_ids_are_per_service_and_subservice(north: TestClient):
    await north.post("/iot/devices", json={"devices": [DEVICE]}, headers=H)
    r = await north.post("/iot/devices", json={"devices": [DEVICE]}, headers=H)
    assert r.status == 409
    assert await r.json() == {
        "name": "DUPLICATE_DEVICE_ID",
        "message": "A device with the same pair (Service, DeviceId) was found:wl001",
    }
    r = await north.post("/iot/devices", json={"devices": [DEVICE]}, headers={**H, "Fiware-ServicePath": "/other"})
    assert r.status == 201
    assert (await north.get("/iot/devices/wl001", headers={**H, "Fiware-Service": "nomi"})).status == 404


async def test_changing_a_device_id_is_400_bad_request(north: TestClient):
    await north.post("/iot/devices", json={"devices": [DEVICE]}, headers=H)
    r = await north.put("/iot/devices/wl001", json={"device_id": "other"}, headers=H)
    assert r.status == 400
    assert (await r.json())["name"] == "BAD_REQUEST"


async def test_device_without_name_or_type_gets_the_group_type_and_default_name(north: TestClient):
    await north.post("/iot/services", json={"services": [GROUP]}, headers=H)
    await north.post("/iot/devices", json={"devices": [{"device_id": "wl9"}]}, headers=H)
    device = await (await north.get("/iot/devices/wl9", headers=H)).json()
    assert device["entity_type"] == "WaterLevelSensor" and device["entity_name"] == "WaterLevelSensor:wl9"


async def test_devices_are_listed_with_total_count_limit_and_offset(north: TestClient):
    devices = [{"device_id": f"d{i:02d}", "entity_type": "T"} for i in range(25)]
    await north.post("/iot/devices", json={"devices": devices}, headers=H)
    r = await north.get("/iot/devices", params={"limit": "10", "offset": "20"}, headers=H)
    body = await r.json()
    assert body["count"] == 25
    assert [d["device_id"] for d in body["devices"]] == ["d20", "d21", "d22", "d23", "d24"]
    r = await north.get("/iot/devices", params={"limit": "x"}, headers=H)
    assert r.status == 400 and (await r.json())["name"] == "WRONG_SYNTAX"


async def test_provisioning_survives_a_restart(tmp_path: Path):
    first = await _client(tmp_path / "iota.db")
    await first.post("/iot/services", json={"services": [GROUP]}, headers=H)
    await first.post("/iot/devices", json={"devices": [DEVICE]}, headers=H)
    await first.close()
    second = await _client(tmp_path / "iota.db")
    try:
        assert (await (await second.get("/iot/devices/wl001", headers=H)).json())["entity_name"] == DEVICE[
            "entity_name"
        ]
        assert (await (await second.get("/iot/services", headers=H)).json())["count"] == 1
    finally:
        await second.close()


async def test_deleting_a_group_with_device_true_removes_its_devices_too(north: TestClient):
    await north.post("/iot/services", json={"services": [GROUP, {**GROUP, "apikey": "other-key"}]}, headers=H)
    await north.post(
        "/iot/devices",
        json={"devices": [{**DEVICE, "apikey": "kaga-key"}, {"device_id": "keep", "apikey": "other-key"}]},
        headers=H,
    )
    r = await north.delete(
        "/iot/services", params={"resource": "/iot/d", "apikey": "kaga-key", "device": "true"}, headers=H
    )
    assert r.status == 204
    body = await (await north.get("/iot/devices", headers=H)).json()
    assert [d["device_id"] for d in body["devices"]] == ["keep"]
