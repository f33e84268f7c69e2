"""`Storage` on MongoDB (PyMongo's async API), in Orion's database layout.

Database `orion` (`orion-<tenant>` per tenant) with Orion's `entities` and `csubs`; what Orion
lacks lives in prefixed places of the default database: `ab_outbox` (notifications owed),
`ab_counters` (creation sequence, outbox ids, the subscriptions version) and `ab_leases` (which
process drains which subscription's notifications).

Atomicity: on a replica set or sharded cluster a batch (and a write with its notifications) runs
in one transaction. A standalone server (and FerretDB) has none: a refused batch is then undone
write by write from the before-images the conditional writes return, and the notifications are
stored right after their change (a crash between the two loses them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from bson import Binary
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity
from broker.storage.mongo import csubs, registrations
from broker.storage.mongo.documents import (
    EXP_DATE,
    VERSION,
    content_fields,
    entity_from_doc,
    entity_key,
    expiry,
    new_document,
    version_condition,
)
from broker.storage.mongo.filters import (
    SEQ,
    encode_key,
    entity_filter,
    hidden_sort_keys,
    is_near,
    near_stage,
    scopes_filter,
    sort_spec,
)
from broker.storage.mongo.keys import object_id
from broker.storage.mongo.visibility import attr_visible, entity_visible, shown_value
from broker.storage.port import (
    EntityFilter,
    Head,
    OrderKey,
    OutboxRecord,
    Page,
    StorageUnavailable,
    TypeSummary,
    Visibility,
    Write,
)

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
TRANSACTION_ATTEMPTS = 3


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """Driver failures (unreachable server, timeouts, server errors) as `StorageUnavailable`."""
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        raise StorageUnavailable(f"MongoDB: {exc}") from exc


async def _documents(
    coll: AsyncCollection[dict[str, Any]], match: dict[str, Any], order: str, page: Page | None
) -> tuple[list[dict[str, Any]], int]:
    """The `doc` field of the matching documents in `order` (one page, or all), and how many match."""
    with _unavailable():
        if page is None:
            rows = await coll.find(match, sort=[(order, ASCENDING)]).to_list(None)
            return [dict(r["doc"]) for r in rows], len(rows)
        if page.limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return [], await coll.count_documents(match)
        rows = await coll.find(match, sort=[(order, ASCENDING)], skip=page.offset, limit=page.limit).to_list(None)
        return [dict(r["doc"]) for r in rows], await coll.count_documents(match)


class _Undo:
    """How to take one applied write of a batch back, when a later one is refused."""

    def __init__(
        self,
        coll: AsyncCollection[dict[str, Any]],
        key: dict[str, str],
        version: int | None,
        before: dict[str, Any] | None,
    ) -> None:
        self.coll, self.key, self.version, self.before = coll, key, version, before

    async def run(self) -> None:
        if self.before is None:  # an insert: remove it unless someone changed it since
            await self.coll.delete_one({"_id": self.key, VERSION: self.version})
        elif self.version is None:  # a delete: put the document back
            with contextlib.suppress(DuplicateKeyError):
                await self.coll.insert_one(self.before)
        else:  # a replace: restore the before-image unless someone changed it since
            await self.coll.replace_one({"_id": self.key, VERSION: self.version}, self.before)


class MongoStorage:
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
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._ready: dict[str, asyncio.Future[None]] = {}

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and probe the server; StorageUnavailable (and no client left open) when it cannot be reached."""
        await self.close()  # an earlier attempt that failed
        self._client = AsyncMongoClient(
            self.uri,
            maxPoolSize=self.pool_size,
            serverSelectionTimeoutMS=self.timeout_ms,
            connectTimeoutMS=self.timeout_ms,
            socketTimeoutMS=self.timeout_ms,
            tz_aware=False,
        )
        try:
            with _unavailable():
                hello = await self._client.admin.command("hello")
                if "setName" in hello or hello.get("msg") == "isdbgrid":
                    self.transactions = await self._transactions_work()
                await self._main[OUTBOX].create_index([("sub", ASCENDING), ("_id", ASCENDING)])
        except StorageUnavailable:
            await self.close()
            raise

    async def _transactions_work(self) -> bool:
        """A replica set or mongos should have transactions; FerretDB claims a replica set without them."""
        assert self._client is not None
        try:
            async with self._client.start_session() as session:
                async with await session.start_transaction():
                    await self._main[COUNTERS].find_one({"_id": "subscriptions"}, session=session)
        except OperationFailure as exc:
            log.warning("MongoDB server without transactions, batches are undone write by write: %s", exc)
            return False
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- plumbing --------------------------------------------------------------------------
    def database(self, tenant: str) -> AsyncDatabase[dict[str, Any]]:
        """Orion's database of a tenant: `orion`, or `orion-<tenant>`."""
        assert self._client is not None, "storage not started"
        return self._client[self.db if not tenant else f"{self.db}-{tenant}"]

    @property
    def _main(self) -> AsyncDatabase[dict[str, Any]]:
        return self.database("")

    def _entities(self, tenant: str) -> AsyncCollection[dict[str, Any]]:
        return self.database(tenant)[ENTITIES]

    def _bookkeeping(self, name: str) -> AsyncCollection[dict[str, Any]]:
        """Collections of the default database whose writes follow `-writeConcern` (0: unacknowledged)."""
        return self._main.get_collection(name, write_concern=WriteConcern(w=self.write_concern))

    async def _ensure_indexes(self, tenant: str) -> None:
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
        coll = self._entities(tenant)
        with _unavailable():
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

    async def _next(self, counter: str, n: int = 1) -> int:
        """The first of `n` new numbers of a counter shared by every process on this database."""
        for attempt in range(3):
            try:
                with _unavailable():
                    doc = await self._main[COUNTERS].find_one_and_update(
                        {"_id": counter}, {"$inc": {"n": n}}, upsert=True, return_document=ReturnDocument.AFTER
                    )
            except DuplicateKeyError:  # two first upserts raced; the counter exists now
                if attempt == 2:
                    raise StorageUnavailable(f"counter {counter} cannot be created") from None
                continue
            assert doc is not None
            return int(doc["n"]) - n + 1
        raise AssertionError("unreachable")

    # -- entities --------------------------------------------------------------------------
    async def query_entities(
        self,
        tenant: str,
        flt: EntityFilter,
        page: Page,
        *,
        order: tuple[OrderKey, ...] = (),
        count: bool = False,
    ) -> tuple[list[Entity], int | None]:
        coll = self._entities(tenant)
        query = entity_filter(flt)
        sort = sort_spec(order, flt)
        hidden = hidden_sort_keys(order, flt)
        docs: list[dict[str, Any]] = []
        total: int | None = None
        with _unavailable():
            if is_near(flt) or hidden:
                first: dict[str, Any] = {"$match": query}
                if is_near(flt):
                    assert flt.geo is not None
                    first = near_stage(flt.geo, query)
                keys: dict[str, Any] = {}
                if hidden:  # a key the caller may not see on some entities sorts as missing there
                    assert flt.visibility is not None
                    renamed = {path: f"_ab_sort{i}" for i, (_, path) in enumerate(hidden)}
                    keys = {renamed[path]: shown_value(flt.visibility, name, path) for name, path in hidden}
                    sort = [(renamed.get(field, field), d) for field, d in sort]
                if page.limit > 0:
                    pipeline = [first] + ([{"$addFields": keys}] if keys else [])
                    pipeline += [{"$sort": dict(sort)}, {"$skip": page.offset}, {"$limit": page.limit}]
                    docs = await (await coll.aggregate(pipeline)).to_list(None)
                if count:
                    counted = await (await coll.aggregate([first, {"$count": "n"}])).to_list(None)
                    total = counted[0]["n"] if counted else 0
            else:
                if page.limit > 0:
                    docs = await coll.find(query, sort=sort, skip=page.offset, limit=page.limit).to_list(None)
                if count:
                    total = await coll.count_documents(query)
        return [entity_from_doc(d) for d in docs], total

    async def _apply(self, tenant: str, write: Write, seq: int, session: Session) -> _Undo | None:
        """One conditional write; how to undo it, or None when it is refused."""
        coll = self._entities(tenant)
        entity = write.entity
        key = entity_key(entity)
        if write.action == "insert":
            try:
                await coll.insert_one(new_document(entity, seq), session=session)
            except DuplicateKeyError:
                return None
            return _Undo(coll, key, 1, None)
        condition = {"_id": key, VERSION: version_condition(entity.version)}
        if write.action == "replace":
            update: dict[str, Any] = {"$set": {**content_fields(entity), VERSION: entity.version + 1}}
            gone = {
                k: ""
                for k, absent in (("location", entity.location is None), (EXP_DATE, expiry(entity) is None))
                if absent
            }
            if gone:
                update["$unset"] = gone
            before = await coll.find_one_and_update(condition, update, session=session)
            return None if before is None else _Undo(coll, key, entity.version + 1, before)
        if write.action == "delete":
            before = await coll.find_one_and_delete(condition, session=session)
            return None if before is None else _Undo(coll, key, None, before)
        raise ValueError(f"unknown write action {write.action!r}")

    async def _enqueue(self, outbox: Sequence[OutboxRecord], first_id: int, session: Session) -> None:
        blobs: dict[int, Binary] = {}  # records of one change share their snapshot: serialise it once
        docs = []
        for i, r in enumerate(outbox):
            blob = blobs.get(id(r.payload))
            if blob is None:
                blob = blobs[id(r.payload)] = Binary(orjson.dumps(r.payload))
            docs.append(
                {
                    "_id": first_id + i,
                    "tenant": r.tenant,
                    "sub": r.subscription_id,
                    "payload": blob,
                    "created": r.created,
                    "due": r.due,
                    "attempts": 0,
                    "cbnotif": r.cbnotif,
                    "subject": r.subject,
                }
            )
        await self._main[OUTBOX].insert_many(docs, session=session)

    async def write_batch(self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord] = ()) -> bool:
        if not writes and not outbox:
            return True
        await self._ensure_indexes(tenant)
        inserts = sum(1 for w in writes if w.action == "insert")
        seq = await self._next("entities", inserts) if inserts else 0
        first_id = await self._next("outbox", len(outbox)) if outbox else 0
        with _unavailable():
            if not self.transactions:
                return await self._write_with_undo(tenant, writes, outbox, seq, first_id)
            for attempt in range(TRANSACTION_ATTEMPTS):
                try:
                    return await self._write_in_transaction(tenant, writes, outbox, seq, first_id)
                except PyMongoError as exc:  # e.g. a write conflict with a concurrent transaction
                    if attempt + 1 == TRANSACTION_ATTEMPTS or not exc.has_error_label("TransientTransactionError"):
                        raise
        raise AssertionError("unreachable")

    async def _write_in_transaction(
        self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord], seq: int, first_id: int
    ) -> bool:
        assert self._client is not None
        async with self._client.start_session() as session:
            async with await session.start_transaction():
                for w in writes:
                    if await self._apply(tenant, w, seq, session) is None:
                        await session.abort_transaction()
                        return False
                    seq += w.action == "insert"
                if outbox:
                    await self._enqueue(outbox, first_id, session)
        return True

    async def _write_with_undo(
        self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord], seq: int, first_id: int
    ) -> bool:
        done: list[_Undo] = []
        try:
            for w in writes:
                undo = await self._apply(tenant, w, seq, None)
                if undo is None:
                    break
                done.append(undo)
                seq += w.action == "insert"
        finally:
            if len(done) < len(writes):  # refused, or failed: take the applied ones back
                for undo in reversed(done):
                    with contextlib.suppress(PyMongoError):
                        await undo.run()
        if len(done) < len(writes):
            return False
        if outbox:
            await self._enqueue(outbox, first_id, None)
        return True

    async def delete_expired(self, now: float) -> int:
        assert self._client is not None
        when = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
        deleted = 0
        with _unavailable():
            for name in await self._client.list_database_names():
                if name == self.db or name.startswith(self.db + "-"):
                    result = await self._client[name][ENTITIES].delete_many({EXP_DATE: {"$lte": when}})
                    deleted += result.deleted_count
        return deleted

    async def insert_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("insert", entity)], outbox)

    async def replace_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("replace", entity)], outbox)

    async def delete_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("delete", entity)], outbox)

    # -- types -----------------------------------------------------------------------------
    async def _attr_types(
        self, coll: AsyncCollection[dict[str, Any]], match: dict[str, Any], vis: Visibility | None
    ) -> dict[str, set[str]]:
        """Attribute name -> attribute types over the matching entities (where visible), in the database."""
        attrs: dict[str, set[str]] = {}
        for name in sorted(await coll.distinct("attrNames", match)):
            having = [match, {"attrNames": name}]
            if vis is not None and not vis.shows_everywhere(name):
                having.append(attr_visible(vis, name))
            types = await coll.distinct(f"attrs.{encode_key(name)}.type", {"$and": having})
            if types:
                attrs[name] = set(types)
        return attrs

    @staticmethod
    def _types_match(
        scopes: tuple[ServicePathScope, ...], vis: Visibility | None, *more: dict[str, Any]
    ) -> dict[str, Any]:
        parts = [scopes_filter(scopes), *(m for m in more)]
        if vis is not None:
            parts.append(entity_visible(vis))
        return {"$and": [p for p in parts if p]} if any(parts) else {}

    async def list_types(
        self,
        tenant: str,
        scopes: tuple[ServicePathScope, ...],
        page: Page,
        *,
        details: bool = True,
        visibility: Visibility | None = None,
    ) -> tuple[list[TypeSummary], int]:
        coll = self._entities(tenant)
        match = self._types_match(scopes, visibility)
        with _unavailable():
            total = len(await coll.distinct("_id.type", match))
            if page.limit <= 0:
                return [], total
            pipeline: list[dict[str, Any]] = [
                {"$match": match},
                {"$group": {"_id": "$_id.type", "count": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
                {"$skip": page.offset},
                {"$limit": page.limit},
            ]
            rows = await (await coll.aggregate(pipeline)).to_list(None)
            summaries = [TypeSummary(type=r["_id"], count=r["count"]) for r in rows]
            if details:
                for s in summaries:
                    s.attrs = await self._attr_types(coll, {"$and": [match, {"_id.type": s.type}]}, visibility)
        return summaries, total

    async def get_type(
        self,
        tenant: str,
        type_name: str,
        scopes: tuple[ServicePathScope, ...],
        *,
        visibility: Visibility | None = None,
    ) -> TypeSummary | None:
        coll = self._entities(tenant)
        match = self._types_match(scopes, visibility, {"_id.type": type_name})
        with _unavailable():
            n = await coll.count_documents(match)
            if n == 0:
                return None
            return TypeSummary(type=type_name, count=n, attrs=await self._attr_types(coll, match, visibility))

    # -- subscriptions ---------------------------------------------------------------------
    async def _bump_subscriptions_version(self) -> None:
        """Other processes on this database reload their subscription cache when this number moves."""
        await self._next("subscriptions")

    async def save_subscription(self, tenant: str, sub_id: str, doc: dict[str, Any]) -> None:
        await self._ensure_indexes(tenant)
        fields = csubs.to_csubs(doc, time.time())
        update: dict[str, Any] = {"$set": fields}
        unset = {k: "" for k in csubs.OPTIONAL if k not in fields}
        if unset:
            update["$unset"] = unset
        seq = await self._next("csubs")
        update["$setOnInsert"] = {SEQ: seq}
        with _unavailable():
            await self.database(tenant)[CSUBS].update_one({"_id": object_id(sub_id)}, update, upsert=True)
        await self._bump_subscriptions_version()

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        with _unavailable():
            result = await self.database(tenant)[CSUBS].delete_one({"_id": object_id(sub_id)})
            await self._main[OUTBOX].delete_many({"tenant": tenant, "sub": sub_id})
        await self._bump_subscriptions_version()
        return result.deleted_count > 0

    async def load_subscriptions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        assert self._client is not None
        out: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with _unavailable():
            names = sorted(
                n for n in await self._client.list_database_names() if n == self.db or n.startswith(self.db + "-")
            )
            for name in names:
                tenant = "" if name == self.db else name[len(self.db) + 1 :]
                # ours in creation order; those Orion wrote (no sequence) first, by ObjectId (creation time)
                cursor = self._client[name][CSUBS].find({}, sort=[(SEQ, ASCENDING), ("_id", ASCENDING)])
                out += [csubs.from_csubs(d, tenant) async for d in cursor]
        return out

    async def save_delivery(self, tenant: str, sub_id: str, delivery: dict[str, Any]) -> None:
        coll = self.database(tenant).get_collection(CSUBS, write_concern=WriteConcern(w=self.write_concern))
        with _unavailable():
            await coll.update_one({"_id": object_id(sub_id)}, {"$set": csubs.delivery_fields(delivery)})

    async def get_delivery(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        with _unavailable():
            doc = await self.database(tenant)[CSUBS].find_one(
                {"_id": object_id(sub_id)}, projection={csubs.DELIVERY: True}
            )
        return None if doc is None else dict(doc.get(csubs.DELIVERY) or {})

    async def subscriptions_version(self) -> int:
        with _unavailable():
            doc = await self._main[COUNTERS].find_one({"_id": "subscriptions"})
        return int(doc["n"]) if doc else 0

    # -- the outbox ------------------------------------------------------------------------
    async def due_subscriptions(self, now: float) -> list[str]:
        outbox = self._main[OUTBOX]
        with _unavailable():
            subs = await outbox.distinct("sub")
            heads = await asyncio.gather(
                *(outbox.find_one({"sub": s}, sort=[("_id", ASCENDING)], projection={"due": True}) for s in subs)
            )
        due = sorted((h["_id"], s) for s, h in zip(subs, heads) if h is not None and h["due"] <= now)
        return [s for _, s in due]

    async def pending_for(self, sub_id: str, limit: int) -> list[OutboxRecord]:
        with _unavailable():
            docs = await self._main[OUTBOX].find({"sub": sub_id}, sort=[("_id", ASCENDING)], limit=limit).to_list(None)
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
            with _unavailable():
                await self._bookkeeping(OUTBOX).delete_many({"_id": {"$in": list(record_ids)}})

    async def retry_notification(self, record_id: int, due: float, attempts: int) -> None:
        with _unavailable():
            await self._bookkeeping(OUTBOX).update_one({"_id": record_id}, {"$set": {"due": due, "attempts": attempts}})

    # -- leases and throttling windows -------------------------------------------------------
    async def claim_lease(self, name: str, owner: str, token: str, until: float, now: float) -> bool:
        try:
            with _unavailable():
                await self._main[LEASES].find_one_and_update(
                    {"_id": name, "$or": [{"owner": owner}, {"expires": {"$lte": now}}]},
                    {"$set": {"owner": owner, "token": token, "expires": until}},
                    upsert=True,
                )
        except DuplicateKeyError:  # held by another owner: the upsert's insert collides with it
            return False
        return True

    async def renew_lease(self, name: str, token: str, until: float) -> bool:
        with _unavailable():
            result = await self._main[LEASES].update_one({"_id": name, "token": token}, {"$set": {"expires": until}})
        return result.matched_count > 0

    async def release_lease(self, name: str, token: str) -> None:
        with _unavailable():
            await self._main[LEASES].delete_one({"_id": name, "token": token})

    async def open_throttle_window(self, tenant: str, sub_id: str, now: float, throttling: float) -> bool:
        window = {"$or": [{csubs.THROTTLED: {"$exists": False}}, {csubs.THROTTLED: {"$lte": now - throttling}}]}
        with _unavailable():
            result = await self.database(tenant)[CSUBS].update_one(
                {"_id": object_id(sub_id), **window}, {"$set": {csubs.THROTTLED: now}}
            )
        return result.matched_count > 0

    # -- personal data ---------------------------------------------------------------------
    # our own collections in each tenant's database: ab_personal_types, ab_consents, ab_access_log

    async def _bump_personal(self, tenant: str) -> None:
        await self._next(f"personal_version:{tenant}")

    async def personal_state(self, tenant: str) -> tuple[dict[str, str], int]:
        with _unavailable():
            rows = await self.database(tenant)[PERSONAL_TYPES].find({}, sort=[("_id", ASCENDING)]).to_list(None)
            version = await self._main[COUNTERS].find_one({"_id": f"personal_version:{tenant}"})
        return {r["_id"]: r["subjectAttr"] for r in rows}, int(version["n"]) if version else 0

    async def personal_types(self, tenant: str) -> dict[str, str]:
        return (await self.personal_state(tenant))[0]

    async def put_personal_type(self, tenant: str, type_name: str, subject_attr: str) -> None:
        with _unavailable():
            await self.database(tenant)[PERSONAL_TYPES].update_one(
                {"_id": type_name}, {"$set": {"subjectAttr": subject_attr}}, upsert=True
            )
        await self._bump_personal(tenant)

    async def delete_personal_type(self, tenant: str, type_name: str) -> bool:
        with _unavailable():
            result = await self.database(tenant)[PERSONAL_TYPES].delete_one({"_id": type_name})
        await self._bump_personal(tenant)
        return result.deleted_count > 0

    # -- registrations ---------------------------------------------------------------------
    async def save_registration(self, tenant: str, doc: dict[str, Any]) -> None:
        """A whole replacement, not `$set`: MongoDB would put new fields in name order, not Orion's."""
        key = object_id(doc["id"])
        coll = self.database(tenant).get_collection(REGISTRATIONS, write_concern=WriteConcern(w=self.write_concern))
        with _unavailable():
            before = await self.database(tenant)[REGISTRATIONS].find_one({"_id": key}, projection={SEQ: True})
        seq = before.get(SEQ) if before is not None else None
        if seq is None:
            seq = await self._next("registrations")
        replacement = {"_id": key, **registrations.to_orion(doc), SEQ: seq}
        with _unavailable():
            await coll.replace_one({"_id": key}, replacement, upsert=True)

    async def get_registration(self, tenant: str, reg_id: str) -> dict[str, Any] | None:
        with _unavailable():
            doc = await self.database(tenant)[REGISTRATIONS].find_one({"_id": object_id(reg_id)})
        return None if doc is None else registrations.from_orion(doc, tenant)

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        match = {} if service_path is None else {"servicePath": service_path}
        coll = self.database(tenant)[REGISTRATIONS]
        with _unavailable():
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
        with _unavailable():  # acknowledged whatever -writeConcern: the answer is 204 or 404
            result = await self.database(tenant)[REGISTRATIONS].delete_one({"_id": object_id(reg_id)})
        return result.deleted_count > 0

    async def save_consent(self, tenant: str, doc: dict[str, Any]) -> None:
        coll = self.database(tenant)[CONSENTS]
        fields = {
            "subject": doc["subject"],
            "recipient": doc["recipient"],
            "expires": doc.get("expires"),
            "withdrawnAt": doc.get("withdrawnAt"),
            "doc": doc,
        }
        with _unavailable():
            existing = await coll.find_one({"_id": doc["id"]}, projection={SEQ: True})
            seq = existing[SEQ] if existing else await self._next(f"consents:{tenant}")
            await coll.update_one({"_id": doc["id"]}, {"$set": {**fields, SEQ: seq}}, upsert=True)
        await self._bump_personal(tenant)

    async def get_consent(self, tenant: str, consent_id: str) -> dict[str, Any] | None:
        with _unavailable():
            row = await self.database(tenant)[CONSENTS].find_one({"_id": consent_id})
        return dict(row["doc"]) if row else None

    async def find_consents(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        active_at: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        match: dict[str, Any] = {}
        if subject is not None:
            match["subject"] = subject
        if recipient is not None:
            match["recipient"] = recipient
        if active_at is not None:
            match["withdrawnAt"] = None
            match["$or"] = [{"expires": None}, {"expires": {"$gt": active_at}}]
        return await _documents(self.database(tenant)[CONSENTS], match, SEQ, page)

    async def append_access_log_if(self, tenant: str, head: Head, sealed: list[dict[str, Any]]) -> bool:
        """Records take the numbers after `head`, and the head moves only from `head`: a concurrent
        append (another process) makes this one return False. Always acknowledged on return."""
        if not sealed:
            return True
        log_coll = self.database(tenant)[ACCESS_LOG]
        heads = self._main[COUNTERS]
        key = f"access_log_head:{tenant}"
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
        with _unavailable():
            try:
                await log_coll.insert_many(docs, ordered=True)
            except DuplicateKeyError:  # another process appended first, or one crashed before its head moved
                last = await log_coll.find_one({}, sort=[("_id", -1)])
                if last is not None and last["_id"] > count:
                    await heads.update_one(
                        {"_id": key}, {"$set": {"count": last["_id"], "hash": last["doc"]["hash"]}}, upsert=True
                    )
                return False
            moved = await heads.update_one(
                {"_id": key, "count": count} if count else {"_id": key, "count": {"$in": [0, None]}},
                {"$set": {"count": count + len(sealed), "hash": sealed[-1]["hash"]}},
                upsert=count == 0,
            )
        return bool(moved.matched_count or moved.upserted_id is not None)

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
        return await _documents(self.database(tenant)[ACCESS_LOG], match, "_id", page)

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        """Records whose queried fields (`_id`, `time`, `subject`, `recipient`) disagree with the
        sealed `doc`: a view filtering on them could miss the record while its chain is intact."""
        faults: set[int] = set()
        with _unavailable():
            async for row in self.database(tenant)[ACCESS_LOG].find({}):
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
        with _unavailable():
            head = await self._main[COUNTERS].find_one({"_id": f"access_log_head:{tenant}"})
        return (int(head["count"]), str(head["hash"])) if head else (0, "")

    async def drop_notifications_of(self, tenant: str, subject: str) -> int:
        with _unavailable():
            result = await self._main[OUTBOX].delete_many({"tenant": tenant, "subject": subject})
        return result.deleted_count

    async def setting(self, key: str, default: str) -> str:
        with _unavailable():
            try:
                await self._main[SETTINGS].update_one({"_id": key}, {"$setOnInsert": {"value": default}}, upsert=True)
            except DuplicateKeyError:  # two first upserts raced: the other one's value stands
                pass
            doc = await self._main[SETTINGS].find_one({"_id": key})
        assert doc is not None
        return str(doc["value"])
