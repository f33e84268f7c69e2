"""End to end with FIWARE's IoT Agent library (npm `iotagent-node-lib` 4.x) in front of the broker.

Everything goes the way FIWARE's IoT Agent tutorial does it: a service group and devices are
provisioned through the agent's north API (`/iot/services`, `/iot/devices`), devices send
UltraLight 2.0 measures to the agent, and the test reads the resulting entities from the broker.
Commands use `cmdMode: notification` (the agent subscribes to the broker for them). The agent
treats every broker answer but the exact one Orion gives as an error and tells the device so, so
the device's status code is the check that the broker answered as Orion does.

Skipped only where Node.js is missing; the library is installed by `make iotagent` (or here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.iotagent_process import (
    AgentProcess,
    DeviceEndpoint,
    ToolMissing,
    call,
    install_library,
    node_executable,
    wait_for,
)
from tests.process.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

SERVICE = "openiot"
SERVICE_PATH = "/"
FIWARE = {"fiware-service": SERVICE, "fiware-servicepath": SERVICE_PATH}
API_KEY = "4jggokgpepnvsb2uv4s40d59ov"
RESOURCE = "/iot/d"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrokerProcess, AgentProcess]]:
    """A broker (with tenants, as an IoT Agent's Fiware-Service needs) and an agent with the tutorial's
    service group: entity type Thing, UltraLight resource /iot/d."""
    try:
        node = node_executable()
        install_library()
    except ToolMissing as exc:
        pytest.skip(f"IoT Agent end-to-end test skipped: {exc}")
    tmp = tmp_path_factory.mktemp("iotagent")
    broker = BrokerProcess(tmp / "broker.db", args=["-multiservice"])
    broker.start()
    agent = AgentProcess(node, broker.url, free_port(), free_port(), tmp / "agent.log")
    try:
        agent.start()
        group = {"services": [{"apikey": API_KEY, "cbroker": broker.url, "entity_type": "Thing", "resource": RESOURCE}]}
        r = call("POST", f"{agent.north_url}/iot/services", group, headers=FIWARE)
        assert r.status == 201, r.body
        yield broker, agent
    finally:
        agent.stop()
        broker.stop()


def provision(agent: AgentProcess, device: dict[str, Any]) -> None:
    r = call("POST", f"{agent.north_url}/iot/devices", {"devices": [device]}, headers=FIWARE)
    assert r.status == 201, f"{r.status} {r.body!r}\n{agent.logs()}"


def measure(agent: AgentProcess, device_id: str, payload: str, **params: str) -> int:
    """POST an UltraLight payload as the device; the agent's status code."""
    query = "&".join(f"{k}={quote(v)}" for k, v in {"k": API_KEY, "i": device_id, **params}.items())
    return call("POST", f"{agent.south_url}{RESOURCE}?{query}", text=payload).status


def entity(broker: BrokerProcess, entity_id: str, **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = call("GET", f"{broker.url}/v2/entities/{entity_id}?{query}", headers=FIWARE)
    assert r.status == 200, r.body
    return r.json()


def tutorial_sensor(device_id: str, entity_id: str, **extra: Any) -> dict[str, Any]:
    """The tutorial's temperature sensor: measure `t` is attribute `temperature`, one static relationship."""
    return {
        "device_id": device_id,
        "entity_name": entity_id,
        "entity_type": "Sensor",
        "transport": "HTTP",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Integer"}],
        "static_attributes": [{"name": "refStore", "type": "Relationship", "value": "urn:ngsi-ld:Store:001"}],
        **extra,
    }


def test_first_and_later_measures_of_a_provisioned_device_are_acknowledged_and_stored(stack) -> None:
    broker, agent = stack
    provision(agent, tutorial_sensor("temperature001", "urn:ngsi-ld:Temperature:001"))
    assert measure(agent, "temperature001", "t|3") == 200, agent.logs()  # the entity's creation
    assert entity(broker, "urn:ngsi-ld:Temperature:001", type="Sensor") == {
        "id": "urn:ngsi-ld:Temperature:001",
        "type": "Sensor",
        "temperature": {"type": "Integer", "value": "3", "metadata": {}},
        "refStore": {"type": "Relationship", "value": "urn:ngsi-ld:Store:001", "metadata": {}},
    }
    assert measure(agent, "temperature001", "t|4") == 200, agent.logs()  # an update
    assert entity(broker, "urn:ngsi-ld:Temperature:001", options="keyValues") == {
        "id": "urn:ngsi-ld:Temperature:001",
        "type": "Sensor",
        "temperature": "4",
        "refStore": "urn:ngsi-ld:Store:001",
    }


def test_measures_not_provisioned_are_stored_as_text_unless_explicit_attrs(stack) -> None:
    broker, agent = stack
    provision(agent, tutorial_sensor("open001", "urn:ngsi-ld:Temperature:open"))
    provision(agent, tutorial_sensor("strict001", "urn:ngsi-ld:Temperature:strict", explicitAttrs=True))
    assert measure(agent, "open001", "t|5|x|7") == 200, agent.logs()
    assert measure(agent, "strict001", "t|5|x|7") == 200, agent.logs()
    assert entity(broker, "urn:ngsi-ld:Temperature:open", options="keyValues") == {
        "id": "urn:ngsi-ld:Temperature:open",
        "type": "Sensor",
        "temperature": "5",
        "refStore": "urn:ngsi-ld:Store:001",
        "x": "7",
    }
    assert entity(broker, "urn:ngsi-ld:Temperature:open", attrs="x")["x"]["type"] == "Text"
    assert entity(broker, "urn:ngsi-ld:Temperature:strict", options="keyValues") == {
        "id": "urn:ngsi-ld:Temperature:strict",
        "type": "Sensor",
        "temperature": "5",
        "refStore": "urn:ngsi-ld:Store:001",
    }


def test_timestamp_puts_time_instant_on_the_entity_and_on_every_attribute(stack) -> None:
    broker, agent = stack
    provision(agent, tutorial_sensor("stamped001", "urn:ngsi-ld:Temperature:stamped", timestamp=True))
    assert measure(agent, "stamped001", "t|6", t="2026-03-01T10:00:00Z") == 200, agent.logs()
    stamp = {"type": "DateTime", "value": "2026-03-01T10:00:00.000Z"}
    assert entity(broker, "urn:ngsi-ld:Temperature:stamped") == {
        "id": "urn:ngsi-ld:Temperature:stamped",
        "type": "Sensor",
        "temperature": {"type": "Integer", "value": "6", "metadata": {"TimeInstant": stamp}},
        "refStore": {"type": "Relationship", "value": "urn:ngsi-ld:Store:001", "metadata": {"TimeInstant": stamp}},
        "TimeInstant": {**stamp, "metadata": {}},
    }


def test_timestamp_in_a_time_zone_is_stored_in_utc(stack) -> None:
    broker, agent = stack
    device = tutorial_sensor("zoned001", "urn:ngsi-ld:Temperature:zoned", timestamp=True, timezone="Europe/Berlin")
    provision(agent, device)
    before = datetime.now(UTC).replace(microsecond=0)
    assert measure(agent, "zoned001", "t|7") == 200, agent.logs()  # the agent stamps it in local time (+01:00)
    after = datetime.now(UTC)
    stored = entity(broker, "urn:ngsi-ld:Temperature:zoned")
    assert stored["TimeInstant"]["type"] == "DateTime"
    assert stored["TimeInstant"]["value"].endswith("Z")
    assert before <= datetime.fromisoformat(stored["TimeInstant"]["value"].replace("Z", "+00:00")) <= after
    assert stored["temperature"]["metadata"]["TimeInstant"]["value"] == stored["TimeInstant"]["value"]


def test_multi_measure_applies_every_group_in_time_order(stack) -> None:
    broker, agent = stack
    provision(agent, tutorial_sensor("multi001", "urn:ngsi-ld:Temperature:multi", timestamp=True))
    payload = "2026-01-01T00:02:00Z|t|12#2026-01-01T00:00:00Z|t|10#2026-01-01T00:01:00Z|t|11"
    assert measure(agent, "multi001", payload) == 200, agent.logs()  # one batch append, sorted by the agent
    stored = entity(broker, "urn:ngsi-ld:Temperature:multi", options="keyValues")
    assert stored["temperature"] == "12"
    assert stored["TimeInstant"] == "2026-01-01T00:02:00.000Z"


def test_multi_measure_without_timestamps_keeps_the_payload_order(stack) -> None:
    broker, agent = stack
    provision(agent, tutorial_sensor("multi002", "urn:ngsi-ld:Temperature:multi2"))
    assert measure(agent, "multi002", "t|1#t|2#t|3") == 200, agent.logs()
    assert entity(broker, "urn:ngsi-ld:Temperature:multi2", options="keyValues")["temperature"] == "3"


def test_measure_of_an_unknown_device_autoprovisions_it_from_the_service_group(stack) -> None:
    broker, agent = stack
    assert measure(agent, "motion999", "c|1") == 200, agent.logs()
    stored = entity(broker, "Thing:motion999", options="keyValues")
    assert stored == {"id": "Thing:motion999", "type": "Thing", "c": "1"}
    r = call("GET", f"{agent.north_url}/iot/devices/motion999", headers=FIWARE)
    assert r.status == 200
    assert r.json()["entity_name"] == "Thing:motion999"


def test_command_in_notification_mode_reaches_the_device_and_its_result_the_entity(stack) -> None:
    broker, agent = stack
    with DeviceEndpoint(lambda command, value: f"{command} done{value}") as device:
        provision(
            agent,
            {
                "device_id": "bell001",
                "entity_name": "urn:ngsi-ld:Bell:001",
                "entity_type": "Bell",
                "protocol": "PDI-IoTA-UltraLight",
                "transport": "HTTP",
                "cmdMode": "notification",
                "endpoint": f"{device.url}/iot/bell001",
                "commands": [{"name": "ring", "type": "command"}],
                "static_attributes": [{"name": "refStore", "type": "Relationship", "value": "urn:ngsi-ld:Store:001"}],
            },
        )
        subs = call("GET", f"{broker.url}/v2/subscriptions", headers=FIWARE).json()
        mine = [s for s in subs if s["subject"]["entities"] == [{"id": "urn:ngsi-ld:Bell:001", "type": "Bell"}]]
        assert len(mine) == 1
        assert mine[0]["subject"]["condition"]["attrs"] == ["ring"]
        assert mine[0]["notification"]["http"] == {"url": f"{agent.north_url}/notify"}

        r = call(
            "PATCH",
            f"{broker.url}/v2/entities/urn:ngsi-ld:Bell:001/attrs?type=Bell",
            {"ring": {"type": "command", "value": " now"}},
            headers=FIWARE,
        )
        assert r.status == 204, r.body
        sent = device.received.get(timeout=15)
        assert sent.path == "/iot/bell001"
        assert sent.body == "bell001@ring| now"
        assert sent.headers["fiware-service"] == SERVICE

        def finished() -> Any:
            stored = entity(broker, "urn:ngsi-ld:Bell:001", options="keyValues")
            return stored if stored.get("ring_status") == "OK" else None

        stored = wait_for(finished, timeout=15)
        assert stored["ring_info"] == "ring done now"
        assert entity(broker, "urn:ngsi-ld:Bell:001", attrs="ring_status,ring_info") == {
            "id": "urn:ngsi-ld:Bell:001",
            "type": "Bell",
            "ring_status": {"type": "commandStatus", "value": "OK", "metadata": {}},
            "ring_info": {"type": "commandResult", "value": "ring done now", "metadata": {}},
        }
        assert device.received.empty()  # one command, sent once (the entity's creation sends none)


def lamp(device_id: str, entity_id: str, endpoint: str) -> dict[str, Any]:
    """A lamp in the agent's default command mode (legacy): the agent registers its lazy attribute and
    its command at the broker as their context provider."""
    return {
        "device_id": device_id,
        "entity_name": entity_id,
        "entity_type": "Lamp",
        "protocol": "PDI-IoTA-UltraLight",
        "transport": "HTTP",
        "endpoint": endpoint,
        "lazy": [{"name": "luminosity", "type": "Integer"}],
        "commands": [{"name": "switch", "type": "command"}],
        "attributes": [{"object_id": "s", "name": "state", "type": "Text"}],
    }


def test_lazy_attribute_is_read_from_the_device_through_the_agent(stack) -> None:
    broker, agent = stack
    with DeviceEndpoint(lambda name, value: "720" if name == "luminosity" else "?") as device:
        provision(agent, lamp("lamp001", "urn:ngsi-ld:Lamp:001", f"{device.url}/iot/lamp001"))
        regs = call("GET", f"{broker.url}/v2/registrations", headers=FIWARE).json()
        mine = [r for r in regs if r["dataProvided"]["entities"] == [{"id": "urn:ngsi-ld:Lamp:001", "type": "Lamp"}]]
        assert len(mine) == 1 and sorted(mine[0]["dataProvided"]["attrs"]) == ["luminosity", "switch"]

        asked = entity(broker, "urn:ngsi-ld:Lamp:001", type="Lamp", attrs="luminosity")
        assert asked == {
            "id": "urn:ngsi-ld:Lamp:001",
            "type": "Lamp",
            "luminosity": {"type": "Integer", "value": "720", "metadata": {}},
        }
        r = call("GET", f"{broker.url}/v2/entities/urn:ngsi-ld:Lamp:001/attrs/luminosity?type=Lamp", headers=FIWARE)
        assert (r.status, r.json()) == (200, {"type": "Integer", "value": "720", "metadata": {}})
        assert device.received.get(timeout=5).body == "lamp001@luminosity|?"
        r = call("GET", f"{broker.url}/v2/entities/urn:ngsi-ld:Lamp:001?options=skipForwarding", headers=FIWARE)
        assert "luminosity" not in r.json()  # read from the device each time, never stored


def test_legacy_command_is_forwarded_to_the_agent_and_its_result_reaches_the_entity(stack) -> None:
    broker, agent = stack
    with DeviceEndpoint(lambda command, value: f"{command} set to{value}") as device:
        provision(agent, lamp("lamp002", "urn:ngsi-ld:Lamp:002", f"{device.url}/iot/lamp002"))

        r = call(
            "PATCH",
            f"{broker.url}/v2/entities/urn:ngsi-ld:Lamp:002/attrs?type=Lamp",
            {"switch": {"type": "command", "value": " on"}},
            headers=FIWARE,
        )
        assert r.status == 204, f"{r.status} {r.body!r}\n{agent.logs()}"
        sent = device.received.get(timeout=15)
        assert (sent.path, sent.body) == ("/iot/lamp002", "lamp002@switch| on")

        def finished() -> Any:
            stored = entity(broker, "urn:ngsi-ld:Lamp:002", options="keyValues,skipForwarding")
            return stored if stored.get("switch_status") == "OK" else None

        stored = wait_for(finished, timeout=15)
        assert stored["switch_info"] == "switch set to on"
        assert "switch" not in stored  # the command went to the agent; the broker keeps its status only
