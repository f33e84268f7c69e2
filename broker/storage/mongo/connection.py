"""The MongoDB connection every role of the backend shares: the client, Orion's database names,
the counters shared by processes, the indexes made once per tenant, and driver errors as
`StorageUnavailable`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from broker.ngsi.selection import Page
from broker.storage.mongo.documents import EXP_DATE
from broker.storage.mongo.filters import SEQ
from broker.storage.port import StorageUnavailable

log = logging.getLogger(__name__)

ENTITIES = "entities"
CSUBS = "csubs"
REGISTRATIONS = "registrations"
OUTBOX = "ab_outbox"
COUNTERS = "ab_counters"
SETTINGS = "ab_settings"
PERSONAL_TYPES = "ab_personal_types"
CONSENTS = "ab_consents"
ACCESS_LOG = "ab_access_log"
LEASES = "ab_leases"

Session = AsyncClientSession | None


@contextlib.contextmanager
def unavailable() -> Iterator[None]:
    """Driver failures (unreachable server, timeouts, server errors) as `StorageUnavailable`."""
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        raise StorageUnavailable(f"MongoDB: {exc}") from exc


async def documents(
    coll: AsyncCollection[dict[str, Any]], match: dict[str, Any], order: str, page: Page | None
) -> tuple[list[dict[str, Any]], int]:
    """The `doc` field of the matching documents in `order` (one page, or all), and how many match."""
    with unavailable():
        if page is None:
            rows = await coll.find(match, sort=[(order, ASCENDING)]).to_list(None)
            return [dict(r["doc"]) for r in rows], len(rows)
        if page.limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return [], await coll.count_documents(match)
        rows = await coll.find(match, sort=[(order, ASCENDING)], skip=page.offset, limit=page.limit).to_list(None)
        return [dict(r["doc"]) for r in rows], await coll.count_documents(match)


class MongoConnection:
    def __init__(
        self,
        uri: str,
        *,
        db: str = "orion",
        write_concern: int = 1,
        pool_size: int = 10,
        timeout_ms: int = 10000,
    ) -> None:
        self.uri = uri
        self.db = db
        self.write_concern = write_concern
        self.pool_size = pool_size
        self.timeout_ms = timeout_ms
        self.transactions = False  # set by start(): does the server have them?
        self.geo_index = False  # set on first write: does the server have 2dsphere indexes?
        self.client: AsyncMongoClient[dict[str, Any]] | None = None
        self._ready: dict[str, asyncio.Future[None]] = {}

    async def start(self) -> None:
        """Connect and probe the server; StorageUnavailable (and no client left open) when it cannot be reached."""
        await self.close()  # an earlier attempt that failed
        self.client = AsyncMongoClient(
            self.uri,
            maxPoolSize=self.pool_size,
            serverSelectionTimeoutMS=self.timeout_ms,
            connectTimeoutMS=self.timeout_ms,
            socketTimeoutMS=self.timeout_ms,
            waitQueueTimeoutMS=self.timeout_ms,  # a free pooled connection, else StorageUnavailable
            tz_aware=False,
        )
        try:
            with unavailable():
                hello = await self.client.admin.command("hello")
                if "setName" in hello or hello.get("msg") == "isdbgrid":
                    self.transactions = await self._transactions_work()
                await self.main[OUTBOX].create_index([("sub", ASCENDING), ("_id", ASCENDING)])
        except StorageUnavailable:
            await self.close()
            raise

    async def _transactions_work(self) -> bool:
        """A replica set or mongos should have transactions; FerretDB claims a replica set without them."""
        assert self.client is not None
        try:
            async with self.client.start_session() as session:
                async with await session.start_transaction():
                    await self.main[COUNTERS].find_one({"_id": "subscriptions"}, session=session)
        except OperationFailure as exc:
            log.warning("MongoDB server without transactions, batches are undone write by write: %s", exc)
            return False
        return True

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    def database(self, tenant: str) -> AsyncDatabase[dict[str, Any]]:
        """Orion's database of a tenant: `orion`, or `orion-<tenant>`."""
        assert self.client is not None, "storage not started"
        return self.client[self.db if not tenant else f"{self.db}-{tenant}"]

    async def tenant_databases(self) -> list[tuple[str, str]]:
        """(tenant, database name) of every tenant database of this broker, in name order."""
        assert self.client is not None, "storage not started"
        names = sorted(
            n for n in await self.client.list_database_names() if n == self.db or n.startswith(self.db + "-")
        )
        return [("" if name == self.db else name[len(self.db) + 1 :], name) for name in names]

    @property
    def main(self) -> AsyncDatabase[dict[str, Any]]:
        return self.database("")

    def entities(self, tenant: str) -> AsyncCollection[dict[str, Any]]:
        return self.database(tenant)[ENTITIES]

    def bookkeeping(self, name: str) -> AsyncCollection[dict[str, Any]]:
        """Collections of the default database whose writes follow `-writeConcern` (0: unacknowledged)."""
        return self.main.get_collection(name, write_concern=WriteConcern(w=self.write_concern))

    async def ensure_indexes(self, tenant: str) -> None:
        """Orion's indexes (perf_tuning.md) and ours, created once per tenant database."""
        name = self.database(tenant).name
        ready = self._ready.get(name)
        if ready is None:
            ready = self._ready[name] = asyncio.ensure_future(self._create_indexes(tenant))
        try:
            await asyncio.shield(ready)
        except BaseException:
            if ready.done():
                self._ready.pop(name, None)
            raise

    async def _create_indexes(self, tenant: str) -> None:
        coll = self.entities(tenant)
        with unavailable():
            for key in ("_id.id", "_id.type", "_id.servicePath", "creDate", "modDate", "attrNames", SEQ):
                await coll.create_index([(key, ASCENDING)])
            await self.database(tenant)[CSUBS].create_index([(SEQ, ASCENDING)])
        try:  # Orion's TTL index on transient entities; delete_expired does the same where there is none
            await coll.create_index([(EXP_DATE, ASCENDING)], expireAfterSeconds=0)
        except OperationFailure as exc:
            log.info("no TTL index on %s: %s", coll.full_name, exc)
        try:
            await coll.create_index([("location.coords", "2dsphere")])
            self.geo_index = True
        except OperationFailure as exc:  # FerretDB: no 2dsphere, so no geo-queries either
            log.info("no 2dsphere index on %s: %s", coll.full_name, exc)

    async def next(self, counter: str, n: int = 1) -> int:
        """The first of `n` new numbers of a counter shared by every process on this database."""
        for attempt in range(3):
            try:
                with unavailable():
                    doc = await self.main[COUNTERS].find_one_and_update(
                        {"_id": counter}, {"$inc": {"n": n}}, upsert=True, return_document=ReturnDocument.AFTER
                    )
            except DuplicateKeyError:  # two first upserts raced; the counter exists now
                if attempt == 2:
                    raise StorageUnavailable(f"counter {counter} cannot be created") from None
                continue
            assert doc is not None
            return int(doc["n"]) - n + 1
        raise AssertionError("unreachable")
