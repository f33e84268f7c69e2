"""Several processes on one database: leases (`ab_leases`) and throttling windows (in `csubs`)."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from broker.storage.mongo import csubs
from broker.storage.mongo.connection import CSUBS, LEASES, MongoConnection, unavailable
from broker.storage.mongo.keys import object_id


class MongoLeases:
    """Leases and throttling windows (the port's `LeaseStore`)."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def claim_lease(self, name: str, owner: str, token: str, until: float, now: float) -> bool:
        try:
            with unavailable():
                await self.conn.main[LEASES].find_one_and_update(
                    {"_id": name, "$or": [{"owner": owner}, {"expires": {"$lte": now}}]},
                    {"$set": {"owner": owner, "token": token, "expires": until}},
                    upsert=True,
                )
        except DuplicateKeyError:  # held by another owner: the upsert's insert collides with it
            return False
        return True

    async def renew_lease(self, name: str, token: str, until: float) -> bool:
        with unavailable():
            result = await self.conn.main[LEASES].update_one(
                {"_id": name, "token": token}, {"$set": {"expires": until}}
            )
        return result.matched_count > 0

    async def release_lease(self, name: str, token: str) -> None:
        with unavailable():
            await self.conn.main[LEASES].delete_one({"_id": name, "token": token})

    async def open_throttle_window(self, tenant: str, sub_id: str, now: float, throttling: float) -> bool:
        window = {"$or": [{csubs.THROTTLED: {"$exists": False}}, {csubs.THROTTLED: {"$lte": now - throttling}}]}
        with unavailable():
            result = await self.conn.database(tenant)[CSUBS].update_one(
                {"_id": object_id(sub_id), **window}, {"$set": {csubs.THROTTLED: now}}
            )
        return result.matched_count > 0

    async def close_throttle_window(self, tenant: str, sub_id: str, opened: float) -> None:
        with unavailable():
            await self.conn.database(tenant)[CSUBS].update_one(
                {"_id": object_id(sub_id), csubs.THROTTLED: opened}, {"$unset": {csubs.THROTTLED: ""}}
            )
