"""Wires one agent: store, northbound, provisioning API, southbound HTTP and (when configured) MQTT."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from adapters.iot.config import AgentConfig
from adapters.iot.http_southbound import build_southbound_app
from adapters.iot.ingest import Ingestor
from adapters.iot.mqtt_southbound import MqttSouthbound
from adapters.iot.north_api import build_north_app
from adapters.iot.northbound import Northbound
from adapters.iot.provisioning_store import ProvisioningStore
from adapters.ngsi_client import NgsiClient

log = logging.getLogger("adapters.iot")


@dataclass
class Agent:
    config: AgentConfig
    store: ProvisioningStore = field(init=False)
    northbound: Northbound = field(init=False)
    ingestor: Ingestor = field(init=False)
    mqtt: MqttSouthbound | None = field(init=False, default=None)
    north_port: int = field(init=False, default=0)
    http_port: int = field(init=False, default=0)
    _session: aiohttp.ClientSession | None = field(init=False, default=None)
    _runners: list[web.AppRunner] = field(init=False, default_factory=list)
    _mqtt_task: asyncio.Task[None] | None = field(init=False, default=None)

    async def start(self) -> None:
        c = self.config
        self.store = ProvisioningStore(c.db_path, c.default_resource)
        self.store.open()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        self.northbound = Northbound(NgsiClient(self._session), batch_max=c.batch_max)
        self.northbound.start()
        self.ingestor = Ingestor(self.store, self.northbound, c.cb_url, add_timestamp=c.timestamp)
        self.north_port = await self._serve(build_north_app(self.store, c.default_resource, c.north_port), c.north_port)
        south = build_southbound_app(self.ingestor, c.default_resource, c.json_resource, c.max_payload, c.http_wait)
        self.http_port = await self._serve(south, c.http_port)
        if c.mqtt_host:
            self.mqtt = MqttSouthbound(
                self.ingestor,
                c.mqtt_host,
                c.mqtt_port,
                username=c.mqtt_username,
                password=c.mqtt_password,
                max_payload=c.max_payload,
            )
            self._mqtt_task = asyncio.create_task(self.mqtt.run(), name="mqtt-southbound")
        log.info(
            "IoT agent up: provisioning on %d, southbound HTTP on %d, MQTT %s, broker %s",
            self.north_port,
            self.http_port,
            f"{c.mqtt_host}:{c.mqtt_port}" if c.mqtt_host else "off",
            c.cb_url,
        )

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        self._runners.append(runner)
        server = site._server
        return int(server.sockets[0].getsockname()[1]) if server and server.sockets else port  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._mqtt_task is not None:
            self._mqtt_task.cancel()
            await asyncio.gather(self._mqtt_task, return_exceptions=True)
        for runner in self._runners:
            await runner.cleanup()
        await self.northbound.close()
        st = self.northbound.stats
        log.info(
            "IoT agent stopped: %d updates sent in %d op/update requests, %d retries, %d refused by the broker",
            st.sent_updates,
            st.sent_batches,
            st.retries,
            st.rejected,
        )
        if self._session is not None:
            await self._session.close()
        self.store.close()
