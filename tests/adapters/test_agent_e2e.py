"""The agent against a real broker: HTTP and MQTT measures become entities, bad input is refused per message."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from adapters.iot.agent import Agent
from tests.adapters.conftest import MOSQUITTO, agent_config, free_port, start_broker, wait_until

SNOW = {"Fiware-Service": "hakui", "Fiware-ServicePath": "/snow"}
GROUP = {
    "apikey": "hakui-snow",
    "entity_type": "SnowDepthSensor",
    "resource": "/iot/d",
    "attributes": [
        {"object_id": "d", "name": "depth", "type": "Number"},
        {"object_id": "b", "name": "battery", "type": "Integer"},
    ],
    "static_attributes": [{"name": "city", "type": "Text", "value": "Hakui"}],
}
DEVICE = {
    "device_id": "snow001",
    "entity_name": "urn:ngsi-ld:SnowDepth:001",
    "entity_type": "SnowDepthSensor",
    "protocol": "PDI-IoTA-UltraLight",
    "transport": "HTTP",
    "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
}


async def provision(
    http: aiohttp.ClientSession,
    agent: Agent,
    headers: dict[str, str] = SNOW,
    group: dict[str, Any] = GROUP,
    devices: list[dict[str, Any]] | None = None,
) -> None:
    north = f"http://127.0.0.1:{agent.north_port}"
    r = await http.post(f"{north}/iot/services", json={"services": [group]}, headers=headers)
    assert r.status == 201, await r.text()
    if devices:
        r = await http.post(f"{north}/iot/devices", json={"devices": devices}, headers=headers)
        assert r.status == 201, await r.text()


async def entity(
    http: aiohttp.ClientSession, broker: str, entity_id: str, headers: dict[str, str] = SNOW
) -> dict[str, Any] | None:
    r = await http.get(f"{broker}/v2/entities/{entity_id}", headers=headers)
    return await r.json() if r.status == 200 else None


def south(agent: Agent) -> str:
    return f"http://127.0.0.1:{agent.http_port}"


async def test_ultralight_post_updates_the_entity_typed_with_time_instant(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent, devices=[DEVICE])
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "snow001"}, data="d|31.5|b|87|t|-2")
    assert r.status == 200 and await r.text() == ""
    e = await entity(http, broker_url, "urn:ngsi-ld:SnowDepth:001")
    assert e is not None and e["type"] == "SnowDepthSensor"
    assert e["depth"]["type"] == "Number" and e["depth"]["value"] == 31.5
    stamp = {"type": "DateTime", "value": e["TimeInstant"]["value"]}
    assert e["battery"] == {"type": "Integer", "value": 87, "metadata": {"TimeInstant": stamp}}
    assert e["temperature"]["value"] == -2
    assert e["city"] == {"type": "Text", "value": "Hakui", "metadata": {}}
    assert e["TimeInstant"]["type"] == "DateTime" and e["TimeInstant"]["value"].endswith("Z")


async def test_ultralight_get_with_d_and_device_timestamp(agent: Agent, broker_url: str, http: aiohttp.ClientSession):
    await provision(http, agent, devices=[DEVICE])
    r = await http.get(
        f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "snow001", "d": "d|12", "t": "2026-01-15T09:00:00Z"}
    )
    assert r.status == 200
    e = await entity(http, broker_url, "urn:ngsi-ld:SnowDepth:001")
    assert e is not None and e["depth"]["value"] == 12
    assert e["TimeInstant"]["value"] == "2026-01-15T09:00:00.000Z"


async def test_multi_group_ultralight_sends_each_group_in_order(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent, devices=[DEVICE])
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "snow001"}, data="d|1#d|2\nd|3|b|5")
    assert r.status == 200
    e = await entity(http, broker_url, "urn:ngsi-ld:SnowDepth:001")
    assert e is not None and e["depth"]["value"] == 3 and e["battery"]["value"] == 5


async def test_json_measures_and_auto_provisioning_of_an_unknown_device(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent)
    r = await http.post(
        f"{south(agent)}/iot/json", params={"k": "hakui-snow", "i": "new7"}, json={"d": 40, "open": True}
    )
    assert r.status == 200, await r.text()
    e = await entity(http, broker_url, "SnowDepthSensor:new7")
    assert e is not None and e["depth"]["value"] == 40 and e["open"]["type"] == "Boolean"
    r = await http.get(f"http://127.0.0.1:{agent.north_port}/iot/devices/new7", headers=SNOW)
    assert r.status == 200
    device = await r.json()
    assert device["entity_name"] == "SnowDepthSensor:new7" and device["apikey"] == "hakui-snow"


async def test_unknown_apikey_is_404_and_nothing_is_written(agent: Agent, broker_url: str, http: aiohttp.ClientSession):
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "nope", "i": "x"}, data="t|1")
    assert r.status == 404
    assert await r.json() == {
        "name": "DEVICE_GROUP_NOT_FOUND",
        "message": "Couldn't find device group for fields: resource,apikey and values: /iot/d,nope",
    }
    r = await http.get(f"{broker_url}/v2/entities")
    assert await r.json() == []


@pytest.mark.parametrize(
    ("params", "data", "status", "name"),
    [
        ({"k": "hakui-snow"}, "d|1", 400, "MANDATORY_PARAMS_NOT_FOUND"),
        ({"k": "hakui-snow", "i": "snow001"}, "d|1|b", 400, "PARSE_ERROR"),
        ({"k": "hakui-snow", "i": "snow001"}, "d|deep", 400, "WRONG_MEASURE"),
        ({"k": "hakui-snow", "i": "snow001"}, "d|" + "9" * 2_000_000, 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_bad_ultralight_messages_get_a_clear_error(
    agent: Agent,
    broker_url: str,
    http: aiohttp.ClientSession,
    params: dict[str, str],
    data: str,
    status: int,
    name: str,
):
    await provision(http, agent, devices=[DEVICE])
    r = await http.post(f"{south(agent)}/iot/d", params=params, data=data)
    assert r.status == status
    assert (await r.json())["name"] == name
    assert await entity(http, broker_url, "urn:ngsi-ld:SnowDepth:001") is None


async def test_malformed_json_is_400_parse_error(agent: Agent, http: aiohttp.ClientSession):
    await provision(http, agent)
    r = await http.post(f"{south(agent)}/iot/json", params={"k": "hakui-snow", "i": "a"}, data=b'{"t": ')
    assert r.status == 400
    assert (await r.json())["name"] == "PARSE_ERROR"


async def test_a_value_the_broker_refuses_fails_alone_and_the_rest_of_the_batch_goes_through(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent)
    url = f"{south(agent)}/iot/d"
    good = [http.post(url, params={"k": "hakui-snow", "i": f"g{i}"}, data=f"d|{i}") for i in range(20)]
    bad = http.post(url, params={"k": "hakui-snow", "i": "bad"}, data="note|a(b)")
    responses = await asyncio.gather(bad, *good)
    assert responses[0].status == 400
    assert (await responses[0].json())["name"] == "BAD_REQUEST"
    assert [r.status for r in responses[1:]] == [200] * 20
    r = await http.get(f"{broker_url}/v2/entities", params={"options": "count", "limit": "100"}, headers=SNOW)
    assert r.headers["Fiware-Total-Count"] == "20"


async def test_concurrent_measures_are_batched_into_few_op_update_requests(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent, devices=[{"device_id": f"s{i}"} for i in range(200)])
    url = f"{south(agent)}/iot/d"
    responses = await asyncio.gather(
        *(http.post(url, params={"k": "hakui-snow", "i": f"s{i}"}, data=f"d|{i}") for i in range(200))
    )
    assert {r.status for r in responses} == {200}
    stats = agent.northbound.stats
    assert stats.sent_updates == 200
    assert stats.sent_batches < 100
    r = await http.get(f"{broker_url}/v2/entities", params={"options": "count", "limit": "1"}, headers=SNOW)
    assert r.headers["Fiware-Total-Count"] == "200"


async def test_updates_wait_for_a_broker_that_is_down_and_arrive_when_it_is_back(
    tmp_path: Path, http: aiohttp.ClientSession
):
    port = free_port()
    agent = Agent(agent_config(tmp_path, f"http://127.0.0.1:{port}"))
    await agent.start()
    try:
        await provision(http, agent)
        post = asyncio.ensure_future(
            http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "late"}, data="d|7")
        )
        await wait_until(lambda: agent.northbound.stats.retries >= 2)
        assert not post.done()
        server = await start_broker(tmp_path, port)
        try:
            r = await asyncio.wait_for(post, 10)
            assert r.status == 200
            e = await entity(http, f"http://127.0.0.1:{port}", "SnowDepthSensor:late")
            assert e is not None and e["depth"]["value"] == 7
        finally:
            await server.close()
    finally:
        await agent.close()


async def test_a_device_waiting_past_the_limit_gets_503_but_the_update_is_kept(
    tmp_path: Path, http: aiohttp.ClientSession
):
    port = free_port()
    agent = Agent(agent_config(tmp_path, f"http://127.0.0.1:{port}", http_wait=0.3))
    await agent.start()
    try:
        await provision(http, agent)
        r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "kept"}, data="d|3")
        assert r.status == 503
        assert (await r.json())["name"] == "CONTEXT_BROKER_UNAVAILABLE"
        server = await start_broker(tmp_path, port)
        try:
            await asyncio.wait_for(agent.northbound.drain(), 10)
            e = await entity(http, f"http://127.0.0.1:{port}", "SnowDepthSensor:kept")
            assert e is not None and e["depth"]["value"] == 3
        finally:
            await server.close()
    finally:
        await agent.close()


async def test_group_cbroker_overrides_the_agent_broker(tmp_path: Path, broker_url: str, http: aiohttp.ClientSession):
    (tmp_path / "other").mkdir()
    other = await start_broker(tmp_path / "other")
    try:
        agent = Agent(agent_config(tmp_path, broker_url))
        await agent.start()
        try:
            await provision(http, agent, group={**GROUP, "cbroker": f"http://127.0.0.1:{other.port}"})
            r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "x1"}, data="d|1")
            assert r.status == 200
            assert await entity(http, f"http://127.0.0.1:{other.port}", "SnowDepthSensor:x1") is not None
            assert await entity(http, broker_url, "SnowDepthSensor:x1") is None
        finally:
            await agent.close()
    finally:
        await other.close()


# --- MQTT on a real Mosquitto


@pytest.fixture
async def mqtt_agent(tmp_path: Path, broker_url: str, mosquitto: int):
    agent = Agent(agent_config(tmp_path, broker_url, mqtt_host="127.0.0.1", mqtt_port=mosquitto))
    await agent.start()
    assert agent.mqtt is not None
    await asyncio.wait_for(agent.mqtt.subscribed.wait(), 10)
    yield agent
    await agent.close()


async def test_mqtt_ultralight_and_json_measures_reach_the_broker(
    mqtt_agent: Agent, mosquitto: int, broker_url: str, http: aiohttp.ClientSession
):
    nomi = {"Fiware-Service": "nomi", "Fiware-ServicePath": "/homes"}
    await provision(
        http,
        mqtt_agent,
        headers=nomi,
        group={
            "apikey": "nomi-home",
            "entity_type": "Appliance",
            "attributes": [{"object_id": "p", "name": "power", "type": "Number"}],
        },
        devices=[
            {
                "device_id": "kettle1",
                "entity_name": "urn:Appliance:kettle1",
                "entity_type": "Appliance",
                "transport": "MQTT",
                "attributes": [{"object_id": "on", "name": "inUse", "type": "Boolean"}],
            }
        ],
    )
    async with aiomqtt.Client("127.0.0.1", mosquitto) as pub:
        await pub.publish("/nomi-home/kettle1/attrs", b"p|1200|on|1", qos=1)
        await pub.publish("/json/nomi-home/fridge2/attrs", json.dumps({"p": 80, "door": "closed"}).encode(), qos=1)
        await pub.publish("nomi-home/kettle1/attrs/p", b"900", qos=1)
    assert mqtt_agent.mqtt is not None
    await wait_until(lambda: mqtt_agent.mqtt.processed == 3)
    await mqtt_agent.northbound.drain()
    kettle = await entity(http, broker_url, "urn:Appliance:kettle1", nomi)
    assert kettle is not None and kettle["power"]["value"] == 900 and kettle["inUse"]["value"] is True
    fridge = await entity(http, broker_url, "Appliance:fridge2", nomi)
    assert fridge is not None and fridge["power"]["value"] == 80 and fridge["door"]["value"] == "closed"


async def test_bad_mqtt_messages_are_logged_per_device_and_the_others_go_through(
    mqtt_agent: Agent, mosquitto: int, broker_url: str, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
):
    await provision(http, mqtt_agent)
    async with aiomqtt.Client("127.0.0.1", mosquitto) as pub:
        await pub.publish("/unknown-key/dev1/attrs", b"d|1", qos=1)
        await pub.publish("/hakui-snow/broken/attrs", b"d|1|b", qos=1)
        await pub.publish("/json/hakui-snow/broken2/attrs", b"{nope", qos=1)
        await pub.publish("/hakui-snow/huge/attrs", b"d|" + b"9" * 1_100_000, qos=1)
        await pub.publish("/hakui-snow/fine/attrs", b"d|5", qos=1)
    assert mqtt_agent.mqtt is not None
    await wait_until(lambda: mqtt_agent.mqtt.processed + mqtt_agent.mqtt.failed == 5)
    assert mqtt_agent.mqtt.failed == 4
    await mqtt_agent.northbound.drain()
    e = await entity(http, broker_url, "SnowDepthSensor:fine")
    assert e is not None and e["depth"]["value"] == 5
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "device dev1 refused: DEVICE_GROUP_NOT_FOUND" in logged
    assert "device broken refused: PARSE_ERROR" in logged
    assert "device broken2 refused: PARSE_ERROR" in logged
    assert "device huge refused: PAYLOAD_TOO_LARGE" in logged


async def test_the_mqtt_southbound_reconnects_after_mosquitto_restarts(
    tmp_path: Path, broker_url: str, http: aiohttp.ClientSession
):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")

    async def start_mosquitto() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_until(lambda: _listening(port))
        return proc

    mosq = await start_mosquitto()
    agent = Agent(agent_config(tmp_path, broker_url, mqtt_host="127.0.0.1", mqtt_port=port))
    await agent.start()
    try:
        assert agent.mqtt is not None
        await asyncio.wait_for(agent.mqtt.subscribed.wait(), 10)
        await provision(http, agent)
        mosq.terminate()
        mosq.wait(5)
        await wait_until(lambda: not agent.mqtt.subscribed.is_set())
        mosq = await start_mosquitto()
        await asyncio.wait_for(agent.mqtt.subscribed.wait(), 20)
        async with aiomqtt.Client("127.0.0.1", port) as pub:
            await pub.publish("/hakui-snow/after/attrs", b"d|9", qos=1)
        await wait_until(lambda: agent.mqtt.processed == 1)
        await agent.northbound.drain()
        e = await entity(http, broker_url, "SnowDepthSensor:after")
        assert e is not None and e["depth"]["value"] == 9
    finally:
        await agent.close()
        mosq.terminate()
        mosq.wait(5)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        return True
    except OSError:
        return False


async def test_a_device_with_its_own_apikey_needs_no_group(agent: Agent, broker_url: str, http: aiohttp.ClientSession):
    r = await http.post(
        f"http://127.0.0.1:{agent.north_port}/iot/devices",
        headers=SNOW,
        json={
            "devices": [
                {
                    "device_id": "solo1",
                    "apikey": "solo-key",
                    "entity_name": "urn:Solo:1",
                    "entity_type": "Solo",
                    "attributes": [{"object_id": "v", "name": "volume", "type": "Number"}],
                }
            ]
        },
    )
    assert r.status == 201
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "solo-key", "i": "solo1"}, data="v|3")
    assert r.status == 200
    e = await entity(http, broker_url, "urn:Solo:1")
    assert e is not None and e["volume"]["value"] == 3


async def test_a_group_without_autoprovision_refuses_unknown_devices(
    agent: Agent, broker_url: str, http: aiohttp.ClientSession
):
    await provision(http, agent, group={**GROUP, "autoprovision": False})
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "stranger"}, data="d|1")
    assert r.status == 404
    assert await r.json() == {"name": "DEVICE_NOT_FOUND", "message": "Device not found with ID [stranger]"}
    r = await http.get(f"http://127.0.0.1:{agent.north_port}/iot/devices/stranger", headers=SNOW)
    assert r.status == 404


@pytest.mark.parametrize(
    "group",
    [
        {**GROUP, "attributes": [{"object_id": "d", "name": "depth", "type": "Number", "metadata": "m"}]},
        {**GROUP, "attributes": [{"object_id": "d", "name": "de pth", "type": "Number"}]},
        {**GROUP, "static_attributes": [{"name": "city", "value": "x", "metadata": []}]},
        {**GROUP, "static_attributes": [{"name": "city"}]},
        {**GROUP, "entity_type": "Snow Sensor"},
        {**GROUP, "apikey": 5},
    ],
)
async def test_provisioning_that_could_not_work_is_refused_up_front(
    agent: Agent, http: aiohttp.ClientSession, group: dict[str, Any]
):
    r = await http.post(f"http://127.0.0.1:{agent.north_port}/iot/services", json={"services": [group]}, headers=SNOW)
    assert r.status == 400
    assert (await r.json())["name"] == "WRONG_SYNTAX"
    r = await http.post(f"{south(agent)}/iot/d", params={"k": "hakui-snow", "i": "s1"}, data="d|1")
    assert r.status == 404
