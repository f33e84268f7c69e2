"""Broker-wide settings (`ab_settings`): the first value stored wins for every process."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from broker.storage.mongo.connection import SETTINGS, MongoConnection, unavailable


class MongoSettings:
    """The port's `SettingsStore`."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def setting(self, key: str, default: str) -> str:
        with unavailable():
            try:
                await self.conn.main[SETTINGS].update_one(
                    {"_id": key}, {"$setOnInsert": {"value": default}}, upsert=True
                )
            except DuplicateKeyError:  # two first upserts raced: the other one's value stands
                pass
            doc = await self.conn.main[SETTINGS].find_one({"_id": key})
        assert doc is not None
        return str(doc["value"])
