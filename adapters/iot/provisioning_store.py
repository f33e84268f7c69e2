"""Durable provisioning: service groups and devices in SQLite, mirrored in memory for fast lookups.

Every write commits (in a worker thread, so the event loop never waits on fsync) before the
in-memory view changes; a restarted agent loads the same provisioning back.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from adapters.iot.model import Device, ServiceGroup

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
  resource TEXT NOT NULL, apikey TEXT NOT NULL, service TEXT NOT NULL, subservice TEXT NOT NULL, body TEXT NOT NULL,
  seq INTEGER PRIMARY KEY AUTOINCREMENT, UNIQUE (resource, apikey));
CREATE TABLE IF NOT EXISTS devices (
  service TEXT NOT NULL, subservice TEXT NOT NULL, device_id TEXT NOT NULL, body TEXT NOT NULL,
  seq INTEGER PRIMARY KEY AUTOINCREMENT, UNIQUE (service, subservice, device_id));
"""

DeviceKey = tuple[str, str, str]


class ProvisioningStore:
    def __init__(self, path: str, default_resource: str = "/iot/d") -> None:
        self._path = path
        self._default_resource = default_resource
        self._db: sqlite3.Connection | None = None
        self._groups: dict[tuple[str, str], ServiceGroup] = {}
        self._devices: dict[DeviceKey, Device] = {}
        self._lock = asyncio.Lock()

    def open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        for service, subservice, body in self._db.execute("SELECT service, subservice, body FROM groups ORDER BY seq"):
            g = ServiceGroup.from_api(service, subservice, json.loads(body), self._default_resource)
            self._groups[(g.resource, g.apikey)] = g
        for service, subservice, body in self._db.execute("SELECT service, subservice, body FROM devices ORDER BY seq"):
            d = Device.from_api(service, subservice, json.loads(body))
            self._devices[(d.service, d.subservice, d.device_id)] = d

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _run(self, sql: str, args: tuple[object, ...]) -> None:
        assert self._db is not None
        db = self._db
        await asyncio.to_thread(lambda: db.execute(sql, args))

    # --- groups

    def groups(self, service: str, subservice: str | None) -> list[ServiceGroup]:
        """Groups of a service, in creation order; every subservice when `subservice` is None (`/*`)."""
        return [
            g
            for g in self._groups.values()
            if g.service == service and (subservice is None or g.subservice == subservice)
        ]

    def group(self, resource: str, apikey: str) -> ServiceGroup | None:
        return self._groups.get((resource, apikey))

    def group_for_measure(self, resource: str | None, apikey: str) -> ServiceGroup | None:
        """The group of (resource, apikey), else the only-or-first group with that apikey (MQTT has no resource)."""
        if resource is not None and (g := self._groups.get((resource, apikey))) is not None:
            return g
        return next((g for g in self._groups.values() if g.apikey == apikey), None)

    async def add_groups(self, groups: list[ServiceGroup]) -> tuple[str, str] | None:
        """Insert all or none; returns the (resource, apikey) that already exists, if any."""
        async with self._lock:
            seen: set[tuple[str, str]] = set()
            for g in groups:
                key = (g.resource, g.apikey)
                if key in self._groups or key in seen:
                    return key
                seen.add(key)
            assert self._db is not None
            db = self._db
            rows = [(g.resource, g.apikey, g.service, g.subservice, json.dumps(g.to_api())) for g in groups]

            def insert() -> None:
                with db:
                    db.execute("BEGIN")
                    db.executemany(
                        "INSERT INTO groups (resource, apikey, service, subservice, body) VALUES (?,?,?,?,?)", rows
                    )

            await asyncio.to_thread(insert)
            for g in groups:
                self._groups[(g.resource, g.apikey)] = g
            return None

    async def replace_group(self, group: ServiceGroup) -> None:
        async with self._lock:
            await self._run(
                "UPDATE groups SET body=? WHERE resource=? AND apikey=?",
                (json.dumps(group.to_api()), group.resource, group.apikey),
            )
            self._groups[(group.resource, group.apikey)] = group

    async def remove_group(self, group: ServiceGroup) -> None:
        async with self._lock:
            await self._run("DELETE FROM groups WHERE resource=? AND apikey=?", (group.resource, group.apikey))
            self._groups.pop((group.resource, group.apikey), None)

    # --- devices

    def devices(self, service: str, subservice: str | None) -> list[Device]:
        return [
            d
            for d in self._devices.values()
            if d.service == service and (subservice is None or d.subservice == subservice)
        ]

    def all_devices(self) -> list[Device]:
        return list(self._devices.values())

    def device(self, service: str, subservice: str, device_id: str) -> Device | None:
        return self._devices.get((service, subservice, device_id))

    async def add_devices(self, devices: list[Device]) -> str | None:
        """Insert all or none; returns the device id that already exists, if any."""
        async with self._lock:
            seen: set[DeviceKey] = set()
            for d in devices:
                key = (d.service, d.subservice, d.device_id)
                if key in self._devices or key in seen:
                    return d.device_id
                seen.add(key)
            assert self._db is not None
            db = self._db
            rows = [(d.service, d.subservice, d.device_id, json.dumps(d.to_api())) for d in devices]

            def insert() -> None:
                with db:
                    db.execute("BEGIN")
                    db.executemany("INSERT INTO devices (service, subservice, device_id, body) VALUES (?,?,?,?)", rows)

            await asyncio.to_thread(insert)
            for d in devices:
                self._devices[(d.service, d.subservice, d.device_id)] = d
            return None

    async def replace_device(self, device: Device) -> None:
        async with self._lock:
            await self._run(
                "UPDATE devices SET body=? WHERE service=? AND subservice=? AND device_id=?",
                (json.dumps(device.to_api()), device.service, device.subservice, device.device_id),
            )
            self._devices[(device.service, device.subservice, device.device_id)] = device

    async def remove_device(self, device: Device) -> None:
        async with self._lock:
            await self._run(
                "DELETE FROM devices WHERE service=? AND subservice=? AND device_id=?",
                (device.service, device.subservice, device.device_id),
            )
            self._devices.pop((device.service, device.subservice, device.device_id), None)
