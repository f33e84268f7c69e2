"""MQTT delivery through aiomqtt: one connection per broker URL (and credentials), reused."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import aiomqtt

from broker.ngsi.subscription import MqttTarget
from broker.subscriptions.payload import Outgoing


class MqttPublisher:
    def __init__(self) -> None:
        self._clients: dict[
            tuple[str, int, str | None, str | None], tuple[aiomqtt.Client, contextlib.AsyncExitStack]
        ] = {}
        self._lock = asyncio.Lock()

    async def _client(self, target: MqttTarget) -> aiomqtt.Client:
        parts = urlsplit(target.url)
        key = (parts.hostname or "localhost", parts.port or 1883, target.user, target.passwd)
        async with self._lock:
            if key not in self._clients:
                stack = contextlib.AsyncExitStack()
                client = aiomqtt.Client(hostname=key[0], port=key[1], username=target.user, password=target.passwd)
                await stack.enter_async_context(client)
                self._clients[key] = (client, stack)
            return self._clients[key][0]

    async def publish(self, target: MqttTarget, out: Outgoing) -> None:
        client = await self._client(target)
        try:
            await client.publish(out.topic or target.topic, payload=out.body, qos=out.qos, retain=out.retain)
        except aiomqtt.MqttError:
            await self._forget(client)
            raise

    async def _forget(self, client: aiomqtt.Client) -> None:
        async with self._lock:
            for key, (c, stack) in list(self._clients.items()):
                if c is client:
                    del self._clients[key]
                    with contextlib.suppress(Exception):
                        await stack.aclose()

    async def close(self) -> None:
        async with self._lock:
            for _client, stack in self._clients.values():
                with contextlib.suppress(Exception):
                    await stack.aclose()
            self._clients.clear()
