"""Southbound core shared by HTTP and MQTT: find (or auto-provision) the device, translate, queue northbound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.iot import errors
from adapters.iot.measures import MeasureGroup
from adapters.iot.model import Device, ServiceGroup, autoprovisioned
from adapters.iot.northbound import Northbound
from adapters.iot.provisioning_store import ProvisioningStore
from adapters.iot.translate import translate
from adapters.ngsi_client import Destination

log = logging.getLogger("adapters.iot.ingest")


@dataclass
class Ingested:
    """What became of one message: the queued updates and the per-measure problems."""

    device_id: str
    updates: list[asyncio.Future[None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _consume(f: asyncio.Future[None]) -> None:
    if not f.cancelled():
        f.exception()  # reported by the northbound log; retrieved here so asyncio does not warn


class Ingestor:
    def __init__(
        self,
        store: ProvisioningStore,
        northbound: Northbound,
        cb_url: str,
        add_timestamp: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._northbound = northbound
        self._cb_url = cb_url
        self._add_timestamp = add_timestamp
        self._clock = clock

    async def _resolve(
        self, apikey: str, device_id: str, resource: str | None, transport: str
    ) -> tuple[Device, ServiceGroup | None]:
        group = self._store.group_for_measure(resource, apikey)
        if group is not None:
            device = self._store.device(group.service, group.subservice, device_id)
            if device is not None:
                return device, group
            if not group.autoprovision:
                raise errors.IotError(404, "DEVICE_NOT_FOUND", f"Device not found with ID [{device_id}]")
            new = autoprovisioned(group, device_id, transport)
            if await self._store.add_devices([new]) is None:
                log.info(
                    "auto-provisioned device %s as %s (%s) in %s%s",
                    device_id,
                    new.entity_name,
                    new.entity_type,
                    group.service or "<default>",
                    group.subservice,
                )
            return self._store.device(group.service, group.subservice, device_id) or new, group
        # a device provisioned with its own apikey needs no group
        device = next((d for d in self._store.all_devices() if d.apikey == apikey and d.device_id == device_id), None)
        if device is None:
            raise errors.group_not_found(["resource", "apikey"], [resource or "", apikey])
        return device, None

    async def ingest(
        self, apikey: str, device_id: str, resource: str | None, transport: str, groups: list[MeasureGroup]
    ) -> Ingested:
        """Queue one update per measure group; raises IotError for an unknown apikey or device."""
        device, group = await self._resolve(apikey, device_id, resource, transport)
        dest = Destination(
            (group.cbroker if group and group.cbroker else self._cb_url), device.service, device.subservice
        )
        result = Ingested(device_id)
        for measures in groups:
            t = translate(device, group, measures, self._clock(), self._add_timestamp)
            for problem in t.errors:
                log.warning("device %s (apikey %s): %s", device_id, apikey, problem)
            result.problems.extend(t.errors)
            if t.measured == 0:
                continue
            future = await self._northbound.submit(dest, t.entity, device_id)
            future.add_done_callback(_consume)
            result.updates.append(future)
        return result
