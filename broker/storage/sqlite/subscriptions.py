"""Subscriptions (stored as their codec documents, with their delivery counters) and the outbox of notifications owed."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from broker.ngsi.subscription import Subscription, SubscriptionStatus
from broker.storage.port import OutboxRecord
from broker.storage.sqlite.engine import SqliteEngine, bump_version
from broker.storage.sqlite.outbox_index import OutboxIndex
from broker.storage.subscription_codec import delivery_from_doc, delivery_to_doc, from_doc, loadable, to_doc

OUTBOX_PAGE = 10_000  # outbox records read at once into the delivery index


class SqliteSubscriptions:
    """The port's `SubscriptionStore`; the outbox index is used only by the process that delivers."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine
        self._outbox = OutboxIndex()  # used only by the process that delivers

    async def save_subscription(self, sub: Subscription) -> None:
        tenant, sub_id, text = sub.tenant, sub.id, orjson.dumps(to_doc(sub)).decode()

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO subscriptions(tenant, id, doc) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET doc = excluded.doc",
                (tenant, sub_id, text),
            )
            bump_version(conn, "subscriptions_version")

        await self.engine.write(run)

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id))
            # a scan (the outbox has no index by subscription: see outbox_index); rare, and the
            # outbox is short unless receivers are down
            conn.execute("DELETE FROM outbox WHERE tenant = ? AND subscription_id = ?", (tenant, sub_id))
            bump_version(conn, "subscriptions_version")
            return cur.rowcount > 0

        deleted = await self.engine.write(run)
        if deleted:  # a refused delete (another tenant's id) must not drop what that id is owed
            self._outbox.forget_subscription(sub_id)
        return deleted

    async def subscriptions_version(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM meta WHERE key = 'subscriptions_version'").fetchone()
            return int(row[0]) if row else 0

        return await self.engine.lookup(run)  # a primary-key read, by every write under -noCache

    async def get_delivery(self, tenant: str, sub_id: str) -> SubscriptionStatus | None:
        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT delivery FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

        return delivery_from_doc(await self.engine.read(run))

    async def load_subscriptions(self) -> list[Subscription]:
        def run(conn: sqlite3.Connection) -> list[tuple[dict[str, Any], dict[str, Any]]]:
            rows = conn.execute("SELECT doc, delivery FROM subscriptions ORDER BY rowid").fetchall()
            return [(orjson.loads(d), orjson.loads(v)) for d, v in rows]

        loaded = (
            loadable(doc.get("id"), doc.get("tenant"), lambda doc=doc, delivery=delivery: from_doc(doc, delivery))
            for doc, delivery in await self.engine.read(run)
        )
        return [sub for sub in loaded if sub is not None]

    async def save_delivery(self, tenant: str, sub_id: str, delivery: SubscriptionStatus) -> None:
        text = orjson.dumps(delivery_to_doc(delivery)).decode()
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE subscriptions SET delivery = ? WHERE tenant = ? AND id = ?", (text, tenant, sub_id)
            )
        )

    async def _read_new_outbox(self) -> None:
        """Records committed since the last look, into the delivery index (see outbox_index), a
        page at a time: after a restart the whole backlog is read once."""
        while True:
            tail = self._outbox.tail
            rows = await self.engine.read(
                lambda conn: conn.execute(  # awaited within this iteration
                    "SELECT id, subscription_id, due FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                    (tail, OUTBOX_PAGE),  # noqa: B023
                ).fetchall()
            )
            self._outbox.add(rows)
            if len(rows) < OUTBOX_PAGE:
                return

    async def due_subscriptions(self, now: float) -> list[str]:
        await self._read_new_outbox()
        return self._outbox.due_subscriptions(now)

    async def pending_for(self, sub_id: str, limit: int) -> list[OutboxRecord]:
        await self._read_new_outbox()
        while True:
            ids = self._outbox.pending(sub_id, limit)
            if not ids:
                return []

            def run(conn: sqlite3.Connection) -> list[Any]:
                marks = ",".join("?" * len(ids))  # noqa: B023 (run is awaited within this iteration)
                return conn.execute(
                    "SELECT id, tenant, subscription_id, payload, created, due, attempts, cbnotif, subject FROM outbox"
                    f" WHERE id IN ({marks}) ORDER BY id",
                    ids,  # noqa: B023
                ).fetchall()

            rows = await self.engine.read(run)
            if len(rows) < len(ids):  # deleted by another process: its subscription, or erased subject
                found = {r[0] for r in rows}
                self._outbox.forget(i for i in ids if i not in found)
                if not rows:
                    continue
            return [
                OutboxRecord(t, s, orjson.loads(p), created=c, due=d, attempts=a, cbnotif=n, id=i, subject=subj)
                for i, t, s, p, c, d, a, n, subj in rows
            ]

    async def finish_notifications(self, record_ids: list[int]) -> None:
        if record_ids:
            await self.engine.write(
                lambda conn: conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in record_ids])
            )
            self._outbox.forget(record_ids)

    async def outbox_size(self) -> int:
        return int(await self.engine.read(lambda conn: conn.execute("SELECT count(*) FROM outbox").fetchone()[0]))

    async def retry_notification(self, record_id: int, due: float, attempts: int) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE outbox SET due = ?, attempts = ? WHERE id = ?", (due, attempts, record_id)
            )
        )
        self._outbox.set_due(record_id, due)

    async def drop_notifications_of(self, tenant: str, subject: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM outbox WHERE tenant = ? AND subject = ?", (tenant, subject)).rowcount

        return await self.engine.write(run)
