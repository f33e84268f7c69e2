"""Entities and their types on MongoDB, in Orion's `entities` collection.

Atomicity: on a replica set or sharded cluster a batch (and a write with its notifications) runs
in one transaction. A standalone server (and FerretDB) has none: a refused batch is then undone
write by write from the before-images the conditional writes return, and the notifications are
stored right after their change (a crash between the two loses them).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Sequence
from typing import Any

import orjson
from bson import Binary
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity
from broker.ngsi.selection import EntityFilter, OrderKey, Page, TypeSummary, Visibility
from broker.storage.mongo.connection import OUTBOX, MongoConnection, Session, unavailable
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
    encode_key,
    entity_filter,
    hidden_sort_keys,
    is_near,
    near_stage,
    scopes_filter,
    sort_spec,
)
from broker.storage.mongo.visibility import attr_visible, entity_visible, shown_value
from broker.storage.port import OutboxRecord, Write

TRANSACTION_ATTEMPTS = 3


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


class MongoEntities:
    """Entities and types (the port's `EntityStore`); each write stores the notifications it owes."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def query_entities(
        self,
        tenant: str,
        flt: EntityFilter,
        page: Page,
        *,
        order: tuple[OrderKey, ...] = (),
        count: bool = False,
    ) -> tuple[list[Entity], int | None]:
        coll = self.conn.entities(tenant)
        query = entity_filter(flt)
        sort = sort_spec(order, flt)
        hidden = hidden_sort_keys(order, flt)
        docs: list[dict[str, Any]] = []
        total: int | None = None
        with unavailable():
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
        coll = self.conn.entities(tenant)
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
        await self.conn.main[OUTBOX].insert_many(docs, session=session)

    async def write_batch(self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord] = ()) -> bool:
        if not writes and not outbox:
            return True
        await self.conn.ensure_indexes(tenant)
        inserts = sum(1 for w in writes if w.action == "insert")
        seq = await self.conn.next("entities", inserts) if inserts else 0
        first_id = await self.conn.next("outbox", len(outbox)) if outbox else 0
        with unavailable():
            if not self.conn.transactions:
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
        assert self.conn.client is not None
        async with self.conn.client.start_session() as session:
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
        when = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
        deleted = 0
        with unavailable():
            for tenant, _ in await self.conn.tenant_databases():
                result = await self.conn.entities(tenant).delete_many({EXP_DATE: {"$lte": when}})
                deleted += result.deleted_count
        return deleted

    async def insert_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("insert", entity)], outbox)

    async def replace_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("replace", entity)], outbox)

    async def delete_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.write_batch(tenant, [Write("delete", entity)], outbox)

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
        coll = self.conn.entities(tenant)
        match = self._types_match(scopes, visibility)
        with unavailable():
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
        coll = self.conn.entities(tenant)
        match = self._types_match(scopes, visibility, {"_id.type": type_name})
        with unavailable():
            n = await coll.count_documents(match)
            if n == 0:
                return None
            return TypeSummary(type=type_name, count=n, attrs=await self._attr_types(coll, match, visibility))
