"""Subscriptions in Orion's `csubs` collection, and the outbox of notifications owed to them
(`ab_outbox`, numbered by a counter every process shares)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from pymongo import ASCENDING
from pymongo.write_concern import WriteConcern

from broker.ngsi.subscription import Subscription, SubscriptionStatus
from broker.storage.mongo import csubs
from broker.storage.mongo.connection import COUNTERS, CSUBS, OUTBOX, MongoConnection, unavailable
from broker.storage.mongo.filters import SEQ
from broker.storage.mongo.keys import object_id
from broker.storage.port import OutboxRecord
from broker.storage.subscription_codec import loadable


class MongoSubscriptions:
    """Subscriptions, their delivery counters and the outbox (the port's `SubscriptionStore`)."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def _bump_subscriptions_version(self) -> None:
        """Other processes on this database reload their subscription cache when this number moves."""
        await self.conn.next("subscriptions")

    async def save_subscription(self, sub: Subscription) -> None:
        tenant, sub_id = sub.tenant, sub.id
        await self.conn.ensure_indexes(tenant)
        fields = csubs.to_csubs(sub, time.time())
        update: dict[str, Any] = {"$set": fields}
        unset = {k: "" for k in csubs.OPTIONAL if k not in fields}
        if unset:
            update["$unset"] = unset
        seq = await self.conn.next("csubs")
        update["$setOnInsert"] = {SEQ: seq}
        with unavailable():
            await self.conn.database(tenant)[CSUBS].update_one({"_id": object_id(sub_id)}, update, upsert=True)
        await self._bump_subscriptions_version()

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        with unavailable():
            result = await self.conn.database(tenant)[CSUBS].delete_one({"_id": object_id(sub_id)})
            await self.conn.main[OUTBOX].delete_many({"tenant": tenant, "sub": sub_id})
        await self._bump_subscriptions_version()
        return result.deleted_count > 0

    async def load_subscriptions(self) -> list[Subscription]:
        out: list[Subscription] = []
        with unavailable():
            for tenant, _ in await self.conn.tenant_databases():
                # ours in creation order; those Orion wrote (no sequence) first, by ObjectId (creation time)
                cursor = self.conn.database(tenant)[CSUBS].find({}, sort=[(SEQ, ASCENDING), ("_id", ASCENDING)])
                async for d in cursor:
                    sub = loadable(str(d.get("_id")), tenant, lambda d=d, tenant=tenant: csubs.from_csubs(d, tenant))
                    if sub is not None:
                        out.append(sub)
        return out

    async def save_delivery(self, tenant: str, sub_id: str, delivery: SubscriptionStatus) -> None:
        coll = self.conn.database(tenant).get_collection(CSUBS, write_concern=WriteConcern(w=self.conn.write_concern))
        with unavailable():
            await coll.update_one({"_id": object_id(sub_id)}, {"$set": csubs.delivery_fields(delivery)})

    async def get_delivery(self, tenant: str, sub_id: str) -> SubscriptionStatus | None:
        with unavailable():
            doc = await self.conn.database(tenant)[CSUBS].find_one(
                {"_id": object_id(sub_id)}, projection={csubs.DELIVERY: True}
            )
        return csubs.stored_delivery(doc)

    async def subscriptions_version(self) -> int:
        with unavailable():
            doc = await self.conn.main[COUNTERS].find_one({"_id": "subscriptions"})
        return int(doc["n"]) if doc else 0

    async def due_subscriptions(self, now: float) -> list[str]:
        outbox = self.conn.main[OUTBOX]
        with unavailable():
            subs = await outbox.distinct("sub")
            heads = await asyncio.gather(
                *(outbox.find_one({"sub": s}, sort=[("_id", ASCENDING)], projection={"due": True}) for s in subs)
            )
        due = sorted((h["_id"], s) for s, h in zip(subs, heads) if h is not None and h["due"] <= now)
        return [s for _, s in due]

    async def pending_for(self, sub_id: str, limit: int) -> list[OutboxRecord]:
        with unavailable():
            docs = (
                await self.conn.main[OUTBOX].find({"sub": sub_id}, sort=[("_id", ASCENDING)], limit=limit).to_list(None)
            )
        return [
            OutboxRecord(
                d["tenant"],
                d["sub"],
                orjson.loads(d["payload"]),
                created=d["created"],
                due=d["due"],
                attempts=d["attempts"],
                cbnotif=d["cbnotif"],
                id=d["_id"],
                subject=d.get("subject"),
            )
            for d in docs
        ]

    async def finish_notifications(self, record_ids: list[int]) -> None:
        if record_ids:
            with unavailable():
                await self.conn.bookkeeping(OUTBOX).delete_many({"_id": {"$in": list(record_ids)}})

    async def outbox_size(self) -> int:
        with unavailable():
            return int(await self.conn.main[OUTBOX].count_documents({}))

    async def retry_notification(self, record_id: int, due: float, attempts: int) -> None:
        with unavailable():
            await self.conn.bookkeeping(OUTBOX).update_one(
                {"_id": record_id}, {"$set": {"due": due, "attempts": attempts}}
            )

    async def drop_notifications_of(self, tenant: str, subject: str) -> int:
        with unavailable():
            result = await self.conn.main[OUTBOX].delete_many({"tenant": tenant, "subject": subject})
        return result.deleted_count
