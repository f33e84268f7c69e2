"""Southbound MQTT: UltraLight on `/<apikey>/<device>/attrs[/<name>]`, JSON on `/json/<apikey>/<device>/attrs[/<name>]`.

The leading `/` is optional and `/ul/...` is accepted as UltraLight, as the FIWARE agents do.
The subscriber reconnects with backoff for as long as the agent runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiomqtt

from adapters.iot import errors
from adapters.iot.ingest import Ingestor
from adapters.iot.json_measures import parse_json_measures, parse_json_single
from adapters.iot.measures import MeasureGroup, MeasureSyntaxError
from adapters.iot.ultralight import parse_single, parse_ultralight

log = logging.getLogger("adapters.iot.mqtt")

TOPICS = [
    "/+/+/attrs",
    "/+/+/attrs/+",
    "+/+/attrs",
    "+/+/attrs/+",
    "/json/+/+/attrs",
    "/json/+/+/attrs/+",
    "json/+/+/attrs",
    "json/+/+/attrs/+",
    "/ul/+/+/attrs",
    "/ul/+/+/attrs/+",
    "ul/+/+/attrs",
    "ul/+/+/attrs/+",
]


@dataclass(frozen=True)
class Route:
    protocol: str  # "ul" or "json"
    apikey: str
    device_id: str
    single: str | None  # the measure name of `.../attrs/<name>`


def route(topic: str) -> Route | None:
    """What a topic addresses, or None when it is not a measure topic."""
    parts = topic.lstrip("/").split("/")
    protocol = "ul"
    if parts and parts[0] in ("json", "ul") and len(parts) in (4, 5) and parts[3] == "attrs":
        protocol = parts.pop(0)
    if len(parts) not in (3, 4) or parts[2] != "attrs" or not parts[0] or not parts[1]:
        return None
    return Route(protocol, parts[0], parts[1], parts[3] if len(parts) == 4 else None)


def parse_message(r: Route, payload: bytes) -> list[MeasureGroup]:
    if r.protocol == "json":
        return parse_json_single(r.single, payload) if r.single is not None else parse_json_measures(payload)
    text = payload.decode("utf-8")
    return parse_single(r.single, text) if r.single is not None else parse_ultralight(text)


class MqttSouthbound:
    def __init__(
        self,
        ingestor: Ingestor,
        host: str,
        port: int = 1883,
        *,
        username: str | None = None,
        password: str | None = None,
        max_payload: int = 1024 * 1024,
    ) -> None:
        self._ingestor = ingestor
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._max_payload = max_payload
        self.subscribed = asyncio.Event()
        self.processed = 0
        self.failed = 0

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message: a clear log line per problem, never an exception out of here."""
        r = route(topic)
        if r is None:
            return
        try:
            if len(payload) > self._max_payload:
                raise errors.payload_too_large(self._max_payload)
            try:
                groups = parse_message(r, payload)
            except (MeasureSyntaxError, UnicodeDecodeError) as e:
                raise errors.parse_error(str(e)) from None
            await self._ingestor.ingest(r.apikey, r.device_id, None, "MQTT", groups)
            self.processed += 1
        except errors.IotError as e:
            self.failed += 1
            log.warning("MQTT message on %s from device %s refused: %s %s", topic, r.device_id, e.name, e.message)
        except Exception:  # a bug must not end the subscription
            self.failed += 1
            log.exception("MQTT message on %s from device %s could not be handled", topic, r.device_id)

    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self._host, self._port, username=self._username, password=self._password, identifier=None
                ) as client:
                    for t in TOPICS:
                        await client.subscribe(t, qos=1)
                    log.info("MQTT southbound subscribed on %s:%d", self._host, self._port)
                    self.subscribed.set()
                    delay = 0.2
                    async for message in client.messages:
                        payload = (
                            message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                        )
                        await self.handle(message.topic.value, payload)
            except aiomqtt.MqttError as e:
                self.subscribed.clear()
                log.warning(
                    "MQTT connection to %s:%d lost (%s); reconnecting in %.1f s", self._host, self._port, e, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
