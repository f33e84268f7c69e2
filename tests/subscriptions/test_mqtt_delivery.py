"""MQTT notifications arrive on a real Mosquitto started on a free loopback port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path

import aiomqtt
import orjson
import pytest

from broker.core.entities import EntityService
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.subscription import Condition, EntityPattern, MqttTarget, Notification, Subscription
from broker.personal.guard import PersonalGuard
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import Dispatcher
from broker.subscriptions.mqtt import MqttPublisher
from broker.subscriptions.notifier import Notifier
from tests.receivers import drained

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (make test installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mosquitto(tmp_path: Path):
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            import time

            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(5)


async def test_mqtt_notification_is_published_on_the_topic(tmp_path: Path, mosquitto: int):
    storage = SqliteStorage(str(tmp_path / "m.db"))
    await storage.start()
    notifier = Notifier(storage, PersonalGuard(storage))
    dispatcher = Dispatcher(storage, notifier, mqtt=MqttPublisher())
    await dispatcher.start()
    try:
        await notifier.save(
            Subscription(
                id="5f00000000000000000000aa",
                tenant="",
                service_path="/#",
                entities=(EntityPattern(id_pattern=".*"),),
                condition=Condition(),
                notification=Notification(
                    target=MqttTarget(url=f"mqtt://127.0.0.1:{mosquitto}", topic="city/snow", qos=1)
                ),
            )
        )
        async with aiomqtt.Client("127.0.0.1", port=mosquitto) as listener:
            await listener.subscribe("city/snow", qos=1)
            await EntityService(storage, notifier.guard, changes=notifier).create(
                RequestContext(), Entity("S1", "SnowDepth", attrs={"depth": Attribute("Number", 31.0)})
            )
            message = await asyncio.wait_for(anext(aiter(listener.messages)), timeout=10)
        body = orjson.loads(message.payload)
        assert message.topic.value == "city/snow"
        assert body["subscriptionId"] == "5f00000000000000000000aa"
        assert body["data"] == [
            {"id": "S1", "type": "SnowDepth", "depth": {"type": "Number", "value": 31, "metadata": {}}}
        ]
    finally:
        await dispatcher.close()
        await storage.close()


async def test_mqtt_subscription_through_the_api(client, mosquitto: int):
    r = await client.post(
        "/v2/subscriptions",
        json={
            "subject": {"entities": [{"idPattern": ".*", "type": "WaterLevel"}]},
            "notification": {
                "mqttCustom": {
                    "url": f"mqtt://127.0.0.1:{mosquitto}",
                    "topic": "rivers/${id}",
                    "qos": 1,
                    "payload": "level ${level}",
                },
            },
        },
    )
    assert r.status == 201, await r.text()
    sub_url = r.headers["Location"]
    async with aiomqtt.Client("127.0.0.1", port=mosquitto) as listener:
        await listener.subscribe("rivers/#", qos=1)
        r = await client.post("/v2/entities", json={"id": "WL7", "type": "WaterLevel", "level": {"value": 2.5}})
        assert r.status == 201
        message = await asyncio.wait_for(anext(aiter(listener.messages)), timeout=10)
    assert message.topic.value == "rivers/WL7"
    assert message.payload == b"level 2.5"
    await drained(client)  # the counters follow the publication
    sub = await (await client.get(sub_url)).json()
    assert sub["notification"]["timesSent"] == 1
    assert sub["notification"]["mqttCustom"]["topic"] == "rivers/${id}"
