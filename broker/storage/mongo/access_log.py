"""The access log on MongoDB (`ab_access_log` of each tenant database, its head in `ab_counters`).

The chain is `broker.personal.access_log`'s: records arrive sealed, and are stored only if the
head is still the one they were sealed after (the port's `ConditionalAccessLog`)."""

from __future__ import annotations

from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from broker.ngsi.selection import Page
from broker.storage.mongo.connection import ACCESS_LOG, COUNTERS, MongoConnection, documents, unavailable
from broker.storage.port import Head

DUPLICATE_KEY = 11000  # MongoDB's error code


class MongoAccessLog:
    """The port's `ConditionalAccessLog`."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def append_access_log_if(self, tenant: str, head: Head, sealed: list[dict[str, Any]]) -> int:
        """Records take the numbers after `head`: a number taken (another process appended first)
        stops the append there. The head then moves forward only, to the last record stored, ours
        or, when none of ours went in, the one found last (a process that crashed or has not
        moved it yet). Always acknowledged on return."""
        if not sealed:
            return 0
        log_coll = self.conn.database(tenant)[ACCESS_LOG]
        count = head[0]
        docs = []
        for seq, record in enumerate(sealed, start=count + 1):
            record["seq"] = seq
            docs.append(
                {
                    "_id": seq,
                    "time": record["time"],
                    "subject": record.get("subject"),
                    "recipient": record.get("recipient"),
                    "doc": record,
                }
            )
        with unavailable():
            try:
                await log_coll.insert_many(docs, ordered=True)
                stored = len(docs)
            except BulkWriteError as exc:  # ordered: the ones before the first taken number went in
                if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", ())):
                    raise
                stored = int(exc.details.get("nInserted", 0))
            if stored:
                await self._advance_head(tenant, count + stored, sealed[stored - 1]["hash"])
            else:
                last = await log_coll.find_one({}, sort=[("_id", -1)])
                if last is not None and last["_id"] > count:
                    await self._advance_head(tenant, last["_id"], last["doc"]["hash"])
        return stored

    async def _advance_head(self, tenant: str, count: int, last: str) -> None:
        """Move the head to (count, last) unless it is there or further already."""
        try:
            await self.conn.main[COUNTERS].update_one(
                {"_id": f"access_log_head:{tenant}", "count": {"$lt": count}},
                {"$set": {"count": count, "hash": last}},
                upsert=True,
            )
        except DuplicateKeyError:  # the head exists and is at `count` or past it
            pass

    async def read_access_log(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        since: float | None = None,
        until: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        match: dict[str, Any] = {}
        if subject is not None:
            match["subject"] = subject
        if recipient is not None:
            match["recipient"] = recipient
        if since is not None or until is not None:
            match["time"] = {
                **({"$gte": since} if since is not None else {}),
                **({"$lt": until} if until is not None else {}),
            }
        return await documents(self.conn.database(tenant)[ACCESS_LOG], match, "_id", page)

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        """Records whose queried fields (`_id`, `time`, `subject`, `recipient`) disagree with the
        sealed `doc`: a view filtering on them could miss the record while its chain is intact."""
        faults: set[int] = set()
        with unavailable():
            async for row in self.conn.database(tenant)[ACCESS_LOG].find({}):
                doc = row.get("doc") or {}
                if (
                    row["_id"] != doc.get("seq")
                    or row.get("time") != doc.get("time")
                    or row.get("subject") != doc.get("subject")
                    or row.get("recipient") != doc.get("recipient")
                ):
                    faults.add(doc.get("seq") if isinstance(doc.get("seq"), int) else row["_id"])
        return faults

    async def access_log_head(self, tenant: str) -> tuple[int, str]:
        with unavailable():
            head = await self.conn.main[COUNTERS].find_one({"_id": f"access_log_head:{tenant}"})
        return (int(head["count"]), str(head["hash"])) if head else (0, "")
