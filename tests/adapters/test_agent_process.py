"""`python -m adapters.iot` as operators run it: IOTA_* variables, then flags, against a broker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.iot.config import load_config
from tests.adapters.conftest import free_port, wait_until
from tests.process.broker_process import BrokerProcess

REPO = Path(__file__).resolve().parents[2]


def test_configuration_reads_iota_variables_and_flags_win():
    env = {
        "IOTA_CB_URL": "http://orion:1026",
        "IOTA_NORTH_PORT": "5041",
        "IOTA_HTTP_PORT": "8896",
        "IOTA_MQTT_HOST": "mosquitto",
        "IOTA_MQTT_PORT": "1884",
        "IOTA_DEFAULT_RESOURCE": "/iot/ul",
    }
    c = load_config([], env)
    assert (c.cb_url, c.north_port, c.http_port, c.mqtt_host, c.mqtt_port, c.default_resource) == (
        "http://orion:1026",
        5041,
        8896,
        "mosquitto",
        1884,
        "/iot/ul",
    )
    c = load_config(["--cb-url", "http://cb:1026", "--north-port", "1", "--mqtt-host", "m2"], env)
    assert (c.cb_url, c.north_port, c.mqtt_host) == ("http://cb:1026", 1, "m2")


def test_defaults_are_those_of_the_fiware_agents_and_mqtt_is_off_without_a_host():
    c = load_config([], {})
    assert (c.north_port, c.http_port, c.default_resource, c.mqtt_host, c.mqtt_port) == (
        4041,
        7896,
        "/iot/d",
        None,
        1883,
    )


@pytest.mark.slow
async def test_agent_process_forwards_measures_to_a_broker_process_and_stops_cleanly(tmp_path: Path):
    with BrokerProcess(tmp_path / "broker.db") as broker:
        broker.start()
        north, south = free_port(), free_port()
        env = {
            **os.environ,
            "IOTA_CB_URL": broker.url,
            "IOTA_NORTH_PORT": str(north),
            "IOTA_HTTP_PORT": str(south),
            "IOTA_DB_PATH": str(tmp_path / "iota.db"),
            "IOTA_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("IOTA_MQTT_HOST", None)
        with open(tmp_path / "agent.log", "wb") as log:
            agent = subprocess.Popen([sys.executable, "-m", "adapters.iot"], cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            async with aiohttp.ClientSession() as http:

                async def up() -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{north}/iot/about") as r:
                            return r.status == 200
                    except aiohttp.ClientError:
                        return False

                await wait_until(up, timeout=20)
                h = {"Fiware-Service": "kaga", "Fiware-ServicePath": "/weather"}
                r = await http.post(
                    f"http://127.0.0.1:{north}/iot/services",
                    headers=h,
                    json={
                        "services": [
                            {
                                "apikey": "kaga-weather",
                                "entity_type": "WeatherObserved",
                                "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
                            }
                        ]
                    },
                )
                assert r.status == 201
                r = await http.post(
                    f"http://127.0.0.1:{south}/iot/d", params={"k": "kaga-weather", "i": "ws1"}, data="t|8.5"
                )
                assert r.status == 200
                r = await http.get(f"{broker.url}/v2/entities/WeatherObserved:ws1/attrs/temperature", headers=h)
                assert (await r.json())["value"] == 8.5
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(15) == 0, (tmp_path / "agent.log").read_text()
        assert "IoT agent up" in (tmp_path / "agent.log").read_text()
