"""Measures per second through the IoT agent into the broker: `python -m tests.adapters.bench_iot_agent`.

Starts a broker process and an agent process on loopback ports (and a Mosquitto when installed),
provisions DEVICES devices, then sends MEASURES UltraLight measures: over HTTP from CONCURRENCY
clients (each answer comes once the broker accepted the update), and over MQTT at QoS 1 (done when
the broker holds every device's last value). Bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiomqtt

from tests.adapters.conftest import MOSQUITTO, free_port, wait_until
from tests.process.broker_process import BrokerProcess

REPO = Path(__file__).resolve().parents[2]
H = {"Fiware-Service": "bench", "Fiware-ServicePath": "/iot"}


def start_agent(tmp: Path, broker_url: str, mqtt_port: int | None) -> tuple[subprocess.Popen[bytes], int, int]:
    north, south = free_port(), free_port()
    env = {
        **os.environ,
        "IOTA_CB_URL": broker_url,
        "IOTA_NORTH_PORT": str(north),
        "IOTA_HTTP_PORT": str(south),
        "IOTA_DB_PATH": str(tmp / "iota.db"),
        "IOTA_HOST": "127.0.0.1",
        "IOTA_LOG_LEVEL": "INFO",
    }
    if mqtt_port:
        env.update(IOTA_MQTT_HOST="127.0.0.1", IOTA_MQTT_PORT=str(mqtt_port))
    log = open(tmp / "agent.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "adapters.iot"], cwd=REPO, env=env, stdout=log, stderr=log)
    return proc, north, south


async def provision(http: aiohttp.ClientSession, north: int, devices: int) -> None:
    async def up() -> bool:
        try:
            async with http.get(f"http://127.0.0.1:{north}/iot/about") as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    await wait_until(up, timeout=30)
    group = {
        "apikey": "bench",
        "entity_type": "Sensor",
        "attributes": [
            {"object_id": "n", "name": "seq", "type": "Integer"},
            {"object_id": "t", "name": "temperature", "type": "Number"},
        ],
    }
    r = await http.post(f"http://127.0.0.1:{north}/iot/services", json={"services": [group]}, headers=H)
    assert r.status == 201, await r.text()
    r = await http.post(
        f"http://127.0.0.1:{north}/iot/devices",
        json={"devices": [{"device_id": f"d{i}"} for i in range(devices)]},
        headers=H,
    )
    assert r.status == 201, await r.text()


async def bench_http(http: aiohttp.ClientSession, south: int, devices: int, measures: int, concurrency: int) -> float:
    url = f"http://127.0.0.1:{south}/iot/d"
    counter = iter(range(measures))
    failures = 0

    async def client() -> None:
        nonlocal failures
        for n in counter:
            async with http.post(
                url, params={"k": "bench", "i": f"d{n % devices}"}, data=f"n|{n}|t|{20 + n % 10}"
            ) as r:
                await r.read()
                failures += r.status != 200

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    assert failures == 0, f"{failures} measures failed"
    return measures / elapsed


async def bench_mqtt(
    http: aiohttp.ClientSession, broker_url: str, mqtt_port: int, devices: int, measures: int
) -> float:
    last = measures - 1
    start = time.perf_counter()
    async with aiomqtt.Client("127.0.0.1", mqtt_port, max_queued_outgoing_messages=measures + 10) as pub:
        for n in range(measures):
            await pub.publish(f"/bench/d{n % devices}/attrs", f"n|{n + 1_000_000}|t|{20 + n % 10}".encode(), qos=1)

    async def all_arrived() -> bool:
        params = {"type": "Sensor", "q": f"seq>={1_000_000 + last - devices + 1}", "options": "count", "limit": "1"}
        async with http.get(f"{broker_url}/v2/entities", params=params, headers=H) as r:
            return r.headers.get("Fiware-Total-Count") == str(devices)

    await wait_until(all_arrived, timeout=300)
    return measures / (time.perf_counter() - start)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--measures", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=32)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mosq = None
        mqtt_port = None
        if MOSQUITTO:
            mqtt_port = free_port()
            (tmp / "m.conf").write_text(
                f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n"
            )
            mosq = subprocess.Popen(
                [MOSQUITTO, "-c", str(tmp / "m.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        with BrokerProcess(tmp / "broker.db") as broker:
            broker.start()
            agent, north, south = start_agent(tmp, broker.url, mqtt_port)
            try:
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=a.concurrency)) as http:
                    await provision(http, north, a.devices)
                    await bench_http(http, south, a.devices, min(500, a.measures), a.concurrency)  # warm-up
                    rate = await bench_http(http, south, a.devices, a.measures, a.concurrency)
                    print(
                        f"HTTP UltraLight: {a.measures} measures, {a.devices} devices, {a.concurrency} clients: {rate:.0f} measures/s"
                    )
                    if mqtt_port:
                        rate = await bench_mqtt(http, broker.url, mqtt_port, a.devices, a.measures)
                        print(
                            f"MQTT UltraLight (QoS 1): {a.measures} measures, {a.devices} devices: {rate:.0f} measures/s"
                        )
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(30)
                stopped = [ln for ln in (tmp / "agent.log").read_text().splitlines() if "IoT agent stopped" in ln]
                print(stopped[-1].split(" adapters.iot ")[-1] if stopped else "agent log has no closing line")
                if mosq is not None:
                    mosq.terminate()
                    mosq.wait(5)


if __name__ == "__main__":
    asyncio.run(main())
