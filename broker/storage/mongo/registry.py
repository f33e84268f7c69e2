"""Registrations in Orion's `registrations` collection (the layout is `registrations.py`'s)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING
from pymongo.write_concern import WriteConcern

from broker.ngsi.registration import Owner, Registration
from broker.ngsi.selection import Page
from broker.storage.mongo import registrations
from broker.storage.mongo.connection import REGISTRATIONS, MongoConnection, unavailable
from broker.storage.mongo.filters import SEQ
from broker.storage.mongo.keys import object_id

LOCK_STRIPES = 64


class MongoRegistrations:
    """The port's `RegistrationStore`."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        # MongoDB applies one update to one document atomically; FerretDB v1 does not (it reads,
        # changes and writes back: concurrent `$inc`s get lost). Field-level writes to a registration
        # from this process therefore also take turns, on one of a fixed set of locks.
        self._locks = tuple(asyncio.Lock() for _ in range(LOCK_STRIPES))

    def _lock(self, tenant: str, reg_id: str) -> asyncio.Lock:
        return self._locks[hash((tenant, reg_id)) % LOCK_STRIPES]

    async def save_registration(self, reg: Registration) -> None:
        """A whole replacement, not `$set`: MongoDB would put new fields in name order, not Orion's."""
        tenant, key = reg.tenant, object_id(reg.id)
        coll = self.conn.database(tenant).get_collection(
            REGISTRATIONS, write_concern=WriteConcern(w=self.conn.write_concern)
        )
        with unavailable():
            before = await self.conn.database(tenant)[REGISTRATIONS].find_one({"_id": key}, projection={SEQ: True})
        seq = before.get(SEQ) if before is not None else None
        if seq is None:
            seq = await self.conn.next("registrations")
        replacement = {"_id": key, **registrations.to_orion(reg), **registrations.ours(reg), SEQ: seq}
        with unavailable():
            await coll.replace_one({"_id": key}, replacement, upsert=True)

    async def get_registration(self, tenant: str, reg_id: str) -> Registration | None:
        with unavailable():
            doc = await self.conn.database(tenant)[REGISTRATIONS].find_one({"_id": object_id(reg_id)})
        return None if doc is None else registrations.from_orion(doc, tenant)

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None, owned_by: Owner | None = None
    ) -> tuple[list[Registration], int]:
        match: dict[str, Any] = {} if service_path is None else {"servicePath": service_path}
        if owned_by is not None:  # None matches a missing `_ab_owner`: no owner, or written by Orion
            match[registrations.OWNER] = owned_by.principal
        coll = self.conn.database(tenant)[REGISTRATIONS]
        with unavailable():
            # ours in creation order; those Orion wrote (no sequence) first, by ObjectId (creation time)
            docs = (
                []
                if page.limit <= 0
                else await coll.find(  # MongoDB reads limit 0 as "no limit"
                    match, sort=[(SEQ, ASCENDING), ("_id", ASCENDING)], skip=page.offset, limit=page.limit
                ).to_list(None)
            )
            total = await coll.count_documents(match)
        return [registrations.from_orion(d, tenant) for d in docs], total

    async def delete_registration(self, tenant: str, reg_id: str) -> bool:
        with unavailable():  # acknowledged whatever -writeConcern: the answer is 204 or 404
            result = await self.conn.database(tenant)[REGISTRATIONS].delete_one({"_id": object_id(reg_id)})
        return result.deleted_count > 0

    async def change_registration(self, tenant: str, reg_id: str, changes: Mapping[str, Any]) -> bool:
        """One update with `$set`/`$unset` of the changed fields only: counters recorded meanwhile stay."""
        update = registrations.change_update(changes)
        key = object_id(reg_id)
        coll = self.conn.database(tenant).get_collection(
            REGISTRATIONS, write_concern=WriteConcern(w=self.conn.write_concern)
        )
        async with self._lock(tenant, reg_id):
            with unavailable():
                if not update:
                    return await coll.count_documents({"_id": key}, limit=1) > 0
                result = await coll.update_one({"_id": key}, update)
        return result.matched_count > 0

    async def record_forwarding(self, tenant: str, reg_id: str, *, ok: bool, at: float) -> None:
        """`$inc` and `$set` in one update: concurrent forwards all count, other fields stay as they are."""
        coll = self.conn.database(tenant).get_collection(
            REGISTRATIONS, write_concern=WriteConcern(w=self.conn.write_concern)
        )
        async with self._lock(tenant, reg_id):
            with unavailable():  # no match (deleted meanwhile, or an id no ObjectId): nothing to count
                await coll.update_one({"_id": object_id(reg_id)}, registrations.forwarding_update(ok=ok, at=at))
