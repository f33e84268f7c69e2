"""`Storage` on SQLite: reads on a small pool of read-only connections, writes group-committed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from shapely.geometry import shape

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import EXPIRY_ATTR, Entity
from broker.storage.codec import attrs_from_doc, attrs_to_doc
from broker.storage.port import (
    EntityFilter,
    OrderKey,
    OutboxRecord,
    Page,
    StorageUnavailable,
    TypeSummary,
    Visibility,
    Write,
)
from broker.storage.sqlite import access_log, subjects
from broker.storage.sqlite import visibility as visible
from broker.storage.sqlite.filters import filter_sql, order_sql, scopes_sql
from broker.storage.sqlite.log_writer import LogWriter
from broker.storage.sqlite.outbox_index import OutboxIndex
from broker.storage.sqlite.schema import connect, migrate
from broker.storage.sqlite.writer import GroupCommitWriter

T = TypeVar("T")

_ENTITY_COLUMNS = "e.pk, e.id, e.type, e.service_path, e.cre_date, e.mod_date, e.version, e.attrs"


def _row_to_entity(row: tuple[Any, ...]) -> Entity:
    _pk, id_, type_, sp, cre, mod, version, attrs = row
    return Entity(
        id=id_,
        type=type_,
        service_path=sp,
        attrs=attrs_from_doc(orjson.loads(attrs)),
        cre_date=cre,
        mod_date=mod,
        version=version,
    )


def _value_columns(value: Any) -> tuple[str, float | None, str | None, int | None]:
    """(kind, num, str, bool) of an attribute value, for the indexed q filters."""
    if isinstance(value, bool):
        return "b", None, None, int(value)
    if isinstance(value, (int, float)):
        return "n", float(value), None, None
    if isinstance(value, str):
        return "s", None, value, None
    if value is None:
        return "z", None, None, None
    return ("a" if isinstance(value, list) else "o"), None, None, None


def _clear_index_rows(conn: sqlite3.Connection, pk: int) -> None:
    conn.execute("DELETE FROM attributes WHERE entity_pk = ?", (pk,))
    conn.execute("DELETE FROM geometries WHERE entity_pk = ?", (pk,))
    conn.execute("DELETE FROM locations WHERE id = ?", (pk,))


def _write_index_rows(conn: sqlite3.Connection, pk: int, entity: Entity) -> None:
    """The rows that make filters, types and geo-queries indexable: attributes and location."""
    _clear_index_rows(conn, pk)
    conn.executemany(
        "INSERT INTO attributes(entity_pk, name, type, kind, num, str, bool) VALUES(?, ?, ?, ?, ?, ?, ?)",
        [(pk, name, attr.type) + _value_columns(attr.value) for name, attr in entity.attrs.items()],
    )
    if entity.location is not None:
        geojson = entity.location.geometry
        minx, miny, maxx, maxy = shape(geojson).bounds
        conn.execute(
            "INSERT INTO geometries(entity_pk, attr, geojson) VALUES(?, ?, ?)",
            (pk, entity.location.attr, orjson.dumps(geojson).decode()),
        )
        conn.execute(
            "INSERT INTO locations(id, minx, maxx, miny, maxy) VALUES(?, ?, ?, ?, ?)", (pk, minx, maxx, miny, maxy)
        )


def _insert(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    cur = conn.execute(
        "INSERT OR IGNORE INTO entities(tenant, id, type, service_path, cre_date, mod_date, version, attrs, subject)"
        " VALUES(?, ?, ?, ?, ?, ?, 1, ?, ?)",
        (
            tenant,
            entity.id,
            entity.type,
            entity.service_path,
            entity.cre_date,
            entity.mod_date,
            _attrs_json(entity),
            subjects.subject_of(conn, tenant, entity),
        ),
    )
    if cur.rowcount == 0:
        return False
    assert cur.lastrowid is not None
    _write_index_rows(conn, cur.lastrowid, entity)
    return True


def _replace(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    row = conn.execute(
        "UPDATE entities SET mod_date = ?, version = version + 1, attrs = ?, subject = ?"
        " WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
        " RETURNING pk",
        (
            entity.mod_date,
            _attrs_json(entity),
            subjects.subject_of(conn, tenant, entity),
            tenant,
            entity.id,
            entity.type,
            entity.service_path,
            entity.version,
        ),
    ).fetchone()
    if row is None:
        return False
    _write_index_rows(conn, row[0], entity)
    return True


def _delete(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    row = conn.execute(
        "DELETE FROM entities WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
        " RETURNING pk",
        (tenant, entity.id, entity.type, entity.service_path, entity.version),
    ).fetchone()
    if row is None:
        return False
    _clear_index_rows(conn, row[0])
    return True


_WRITES = {"insert": _insert, "replace": _replace, "delete": _delete}


def _bump_version(conn: sqlite3.Connection, key: str) -> None:
    """Caches in every process on this file (subscriptions, consents) reload when the number moves."""
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (key,),
    )


def _enqueue(conn: sqlite3.Connection, outbox: Sequence[OutboxRecord]) -> None:
    texts: dict[int, str] = {}  # records of one change share their snapshot: serialise it once
    rows = []
    for r in outbox:
        text = texts.get(id(r.payload))
        if text is None:
            text = texts[id(r.payload)] = orjson.dumps(r.payload).decode()
        rows.append((r.tenant, r.subscription_id, text, r.created, r.due, r.cbnotif, r.subject))
    conn.executemany(
        "INSERT INTO outbox(tenant, subscription_id, payload, created, due, attempts, cbnotif, subject)"
        " VALUES(?, ?, ?, ?, ?, 0, ?, ?)",
        rows,
    )


def _with_outbox(
    write: Callable[[sqlite3.Connection], bool], outbox: Sequence[OutboxRecord]
) -> Callable[[sqlite3.Connection], bool]:
    def run(conn: sqlite3.Connection) -> bool:
        if not write(conn):
            return False
        if outbox:
            _enqueue(conn, outbox)
        return True

    return run


def _type_filter(
    tenant: str, type_name: str | None, scopes: tuple[ServicePathScope, ...], vis: Visibility | None
) -> tuple[str, list[Any], str, list[Any]]:
    """WHERE over entities for `/v2/types`, and the extra condition on their attribute rows `a`."""
    where = ["e.tenant = ?"]
    params: list[Any] = [tenant]
    if type_name is not None:
        where.append("e.type = ?")
        params.append(type_name)
    sp, sp_params = scopes_sql(scopes)
    if sp:
        where.append(sp)
        params += sp_params
    attr_where, attr_params = "", []
    if vis is not None:
        sql, p = visible.entity_visible(vis)
        where.append(sql)
        params += p
        sql, p = visible.column_visible(vis, "a.name")
        attr_where, attr_params = f" AND {sql}", p
    return " AND ".join(where), params, attr_where, attr_params


def _document(conn: sqlite3.Connection, table: str, tenant: str, id_: str) -> dict[str, Any] | None:
    """The `doc` column of one tenant's row by id, or None."""
    row = conn.execute(f"SELECT doc FROM {table} WHERE tenant = ? AND id = ?", (tenant, id_)).fetchone()
    return orjson.loads(row[0]) if row else None


def _documents(
    conn: sqlite3.Connection, table: str, clause: str, params: list[Any], order: str, page: Page | None
) -> tuple[list[dict[str, Any]], int]:
    """The `doc` column of the matching rows in `order` (one page, or all), and how many match."""
    if page is None:
        rows = conn.execute(f"SELECT doc FROM {table} WHERE {clause} ORDER BY {order}", params).fetchall()
        return [orjson.loads(r[0]) for r in rows], len(rows)
    rows = conn.execute(
        f"SELECT doc FROM {table} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?", params + [page.limit, page.offset]
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM {table} WHERE {clause}", params).fetchone()[0]
    return [orjson.loads(r[0]) for r in rows], total


class _Refused(Exception):
    """A batch write was refused: roll the whole batch back."""


def _attrs_json(entity: Entity) -> str:
    return orjson.dumps(attrs_to_doc(entity)).decode()


OUTBOX_PAGE = 10_000  # outbox records read at once into the delivery index


class SqliteStorage:
    def __init__(self, path: str, *, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self._writer = GroupCommitWriter(path)
        self._access_log = LogWriter(path)
        self._outbox = OutboxIndex()  # used only by the process that delivers
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        try:
            await asyncio.to_thread(self._writer.start, migrate)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open database {self.path}: {exc}") from exc
        self._pool = ThreadPoolExecutor(max_workers=self._readers, thread_name_prefix="sqlite-reader")

    async def close(self) -> None:
        await self._access_log.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        await asyncio.to_thread(self._writer.stop)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # -- plumbing --------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            self._local.subject_sets = OrderedDict()
            with self._lock:
                self._connections.append(conn)
        return conn

    def _on_reader(self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None) -> T:
        conn = self._reader()
        visible.materialise(conn, visibility, self._local.subject_sets)
        return fn(conn)

    async def _read(self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None = None) -> T:
        """`fn` on a reader connection; SQL compiled from `visibility` needs its subject sets there."""
        assert self._pool is not None, "storage not started"
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._on_reader, fn, visibility)
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._writer.submit(fn)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc

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
        where, params = filter_sql(tenant, flt)
        order_by, order_params = order_sql(order, flt)

        if order_params:
            # sort keys only (not whole rows) over the matches, then read the one page of rows
            sql = (
                f"SELECT {_ENTITY_COLUMNS} FROM entities e WHERE e.pk IN (SELECT e.pk FROM entities e"
                f" WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?) ORDER BY {order_by}"
            )
            args = params + order_params + [page.limit, page.offset] + order_params
        else:
            sql = f"SELECT {_ENTITY_COLUMNS} FROM entities e WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?"
            args = params + [page.limit, page.offset]

        def run(conn: sqlite3.Connection) -> tuple[list[Entity], int | None]:
            rows = conn.execute(sql, args).fetchall()
            total = None
            if count:
                total = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            return [_row_to_entity(r) for r in rows], total

        return await self._read(run, flt.visibility)

    async def insert_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self._write(_with_outbox(lambda conn: _insert(conn, tenant, entity), outbox))

    async def replace_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self._write(_with_outbox(lambda conn: _replace(conn, tenant, entity), outbox))

    async def delete_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self._write(_with_outbox(lambda conn: _delete(conn, tenant, entity), outbox))

    async def delete_expired(self, now: float) -> int:
        find = "SELECT entity_pk FROM attributes WHERE name = ? AND type = 'DateTime' AND num <= ?"
        # a read first: most rounds find nothing, and then write (and fsync) nothing
        if not await self._read(lambda conn: conn.execute(find + " LIMIT 1", (EXPIRY_ATTR, now)).fetchall()):
            return 0

        def run(conn: sqlite3.Connection) -> int:
            pks = [r[0] for r in conn.execute(find, (EXPIRY_ATTR, now)).fetchall()]
            for pk in pks:
                conn.execute("DELETE FROM entities WHERE pk = ?", (pk,))
                _clear_index_rows(conn, pk)
            return len(pks)

        return await self._write(run)

    async def write_batch(self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord] = ()) -> bool:
        def run(conn: sqlite3.Connection) -> None:
            for w in writes:
                if not _WRITES[w.action](conn, tenant, w.entity):
                    raise _Refused()  # the writer rolls this job's savepoint back
            _enqueue(conn, outbox)

        try:
            await self._write(run)
        except _Refused:
            return False
        return True

    # -- subscriptions and the outbox ---------------------------------------------------------
    async def save_subscription(self, tenant: str, sub_id: str, doc: dict[str, Any]) -> None:
        text = orjson.dumps(doc).decode()

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO subscriptions(tenant, id, doc) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET doc = excluded.doc",
                (tenant, sub_id, text),
            )
            _bump_version(conn, "subscriptions_version")

        await self._write(run)

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id))
            # a scan (the outbox has no index by subscription: see outbox_index); rare, and the
            # outbox is short unless receivers are down
            conn.execute("DELETE FROM outbox WHERE tenant = ? AND subscription_id = ?", (tenant, sub_id))
            _bump_version(conn, "subscriptions_version")
            return cur.rowcount > 0

        deleted = await self._write(run)
        if deleted:  # a refused delete (another tenant's id) must not drop what that id is owed
            self._outbox.forget_subscription(sub_id)
        return deleted

    async def subscriptions_version(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM meta WHERE key = 'subscriptions_version'").fetchone()
            return int(row[0]) if row else 0

        return await self._read(run)

    async def get_delivery(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT delivery FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._read(run)

    async def load_subscriptions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        def run(conn: sqlite3.Connection) -> list[tuple[dict[str, Any], dict[str, Any]]]:
            rows = conn.execute("SELECT doc, delivery FROM subscriptions ORDER BY rowid").fetchall()
            return [(orjson.loads(d), orjson.loads(v)) for d, v in rows]

        return await self._read(run)

    async def save_delivery(self, tenant: str, sub_id: str, delivery: dict[str, Any]) -> None:
        text = orjson.dumps(delivery).decode()
        await self._write(
            lambda conn: conn.execute(
                "UPDATE subscriptions SET delivery = ? WHERE tenant = ? AND id = ?", (text, tenant, sub_id)
            )
        )

    async def _read_new_outbox(self) -> None:
        """Records committed since the last look, into the delivery index (see outbox_index), a
        page at a time: after a restart the whole backlog is read once."""
        while True:
            tail = self._outbox.tail
            rows = await self._read(
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

            rows = await self._read(run)
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
            await self._write(
                lambda conn: conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in record_ids])
            )
            self._outbox.forget(record_ids)

    async def retry_notification(self, record_id: int, due: float, attempts: int) -> None:
        await self._write(
            lambda conn: conn.execute(
                "UPDATE outbox SET due = ?, attempts = ? WHERE id = ?", (due, attempts, record_id)
            )
        )
        self._outbox.set_due(record_id, due)

    # -- leases and throttling windows -------------------------------------------------------
    async def claim_lease(self, name: str, owner: str, token: str, until: float, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "INSERT INTO leases(name, owner, token, expires) VALUES(?, ?, ?, ?) ON CONFLICT(name) DO UPDATE"
                    " SET owner = excluded.owner, token = excluded.token, expires = excluded.expires"
                    " WHERE leases.owner = excluded.owner OR leases.expires <= ?",
                    (name, owner, token, until, now),
                ).rowcount
                > 0
            )

        return await self._write(run)

    async def renew_lease(self, name: str, token: str, until: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE leases SET expires = ? WHERE name = ? AND token = ?", (until, name, token)
                ).rowcount
                > 0
            )

        return await self._write(run)

    async def release_lease(self, name: str, token: str) -> None:
        await self._write(lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND token = ?", (name, token)))

    async def open_throttle_window(self, tenant: str, sub_id: str, now: float, throttling: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE subscriptions SET throttled = ? WHERE tenant = ? AND id = ?"
                    " AND (throttled IS NULL OR throttled <= ?)",
                    (now, tenant, sub_id, now - throttling),
                ).rowcount
                > 0
            )

        return await self._write(run)

    # -- types -----------------------------------------------------------------------------
    async def list_types(
        self,
        tenant: str,
        scopes: tuple[ServicePathScope, ...],
        page: Page,
        *,
        details: bool = True,
        visibility: Visibility | None = None,
    ) -> tuple[list[TypeSummary], int]:
        where, params, attr_where, attr_params = _type_filter(tenant, None, scopes, visibility)

        def run(conn: sqlite3.Connection) -> tuple[list[TypeSummary], int]:
            total = conn.execute(f"SELECT count(DISTINCT e.type) FROM entities e WHERE {where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT e.type, count(*) FROM entities e WHERE {where} GROUP BY e.type ORDER BY e.type LIMIT ? OFFSET ?",
                params + [page.limit, page.offset],
            ).fetchall()
            summaries = [TypeSummary(type=t, count=c) for t, c in rows]
            if details and summaries:
                by_type = {s.type: s for s in summaries}
                marks = ",".join("?" * len(summaries))
                for t, name, atype in conn.execute(
                    f"SELECT DISTINCT e.type, a.name, a.type FROM entities e JOIN attributes a ON a.entity_pk = e.pk"
                    f" WHERE {where}{attr_where} AND e.type IN ({marks}) ORDER BY a.name, a.type",
                    params + attr_params + [s.type for s in summaries],
                ):
                    by_type[t].attrs.setdefault(name, set()).add(atype)
            return summaries, total

        return await self._read(run, visibility)

    async def get_type(
        self,
        tenant: str,
        type_name: str,
        scopes: tuple[ServicePathScope, ...],
        *,
        visibility: Visibility | None = None,
    ) -> TypeSummary | None:
        where, params, attr_where, attr_params = _type_filter(tenant, type_name, scopes, visibility)

        def run(conn: sqlite3.Connection) -> TypeSummary | None:
            n = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            if n == 0:
                return None
            summary = TypeSummary(type=type_name, count=n)
            for name, atype in conn.execute(
                f"SELECT DISTINCT a.name, a.type FROM entities e JOIN attributes a ON a.entity_pk = e.pk"
                f" WHERE {where}{attr_where} ORDER BY a.name, a.type",
                params + attr_params,
            ):
                summary.attrs.setdefault(name, set()).add(atype)
            return summary

        return await self._read(run, visibility)

    # -- personal data ---------------------------------------------------------------------
    async def personal_types(self, tenant: str) -> dict[str, str]:
        def run(conn: sqlite3.Connection) -> dict[str, str]:
            rows = conn.execute(
                "SELECT type, subject_attr FROM personal_types WHERE tenant = ? ORDER BY type", (tenant,)
            ).fetchall()
            return dict(rows)

        return await self._read(run)

    async def personal_state(self, tenant: str) -> tuple[dict[str, str], int]:
        def run(conn: sqlite3.Connection) -> tuple[dict[str, str], int]:
            rows = conn.execute(
                "SELECT type, subject_attr FROM personal_types WHERE tenant = ? ORDER BY type", (tenant,)
            ).fetchall()
            version = conn.execute("SELECT value FROM meta WHERE key = ?", (f"personal_version:{tenant}",)).fetchone()
            return dict(rows), int(version[0]) if version else 0

        return await self._read(run)

    async def put_personal_type(self, tenant: str, type_name: str, subject_attr: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO personal_types(tenant, type, subject_attr) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, type) DO UPDATE SET subject_attr = excluded.subject_attr",
                (tenant, type_name, subject_attr),
            )
            subjects.declare(conn, tenant, type_name, subject_attr)
            _bump_version(conn, f"personal_version:{tenant}")

        await self._write(run)

    async def delete_personal_type(self, tenant: str, type_name: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM personal_types WHERE tenant = ? AND type = ?", (tenant, type_name))
            subjects.undeclare(conn, tenant, type_name)
            _bump_version(conn, f"personal_version:{tenant}")
            return cur.rowcount > 0

        return await self._write(run)

    async def save_registration(self, tenant: str, doc: dict[str, Any]) -> None:
        text = orjson.dumps(doc).decode()
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO registrations(tenant, id, doc) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET doc = excluded.doc",
                (tenant, doc["id"], text),
            )
        )

    async def get_registration(self, tenant: str, reg_id: str) -> dict[str, Any] | None:
        return await self._read(lambda conn: _document(conn, "registrations", tenant, reg_id))

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        clause, params = "tenant = ?", [tenant]
        if service_path is not None:
            clause, params = clause + " AND json_extract(doc, '$.service_path') = ?", params + [service_path]
        return await self._read(lambda conn: _documents(conn, "registrations", clause, params, "pk", page))

    async def delete_registration(self, tenant: str, reg_id: str) -> bool:
        return await self._write(
            lambda conn: (
                conn.execute("DELETE FROM registrations WHERE tenant = ? AND id = ?", (tenant, reg_id)).rowcount > 0
            )
        )

    async def save_consent(self, tenant: str, doc: dict[str, Any]) -> None:
        text = orjson.dumps(doc).decode()

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO consents(tenant, id, subject, recipient, expires, withdrawn, doc) VALUES(?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET expires = excluded.expires, withdrawn = excluded.withdrawn,"
                " doc = excluded.doc",
                (tenant, doc["id"], doc["subject"], doc["recipient"], doc.get("expires"), doc.get("withdrawnAt"), text),
            )
            _bump_version(conn, f"personal_version:{tenant}")

        await self._write(run)

    async def get_consent(self, tenant: str, consent_id: str) -> dict[str, Any] | None:
        return await self._read(lambda conn: _document(conn, "consents", tenant, consent_id))

    async def find_consents(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        active_at: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        where = ["tenant = ?"]
        params: list[Any] = [tenant]
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if recipient is not None:
            where.append("recipient = ?")
            params.append(recipient)
        if active_at is not None:
            where.append("withdrawn IS NULL AND (expires IS NULL OR expires > ?)")
            params.append(active_at)
        clause = " AND ".join(where)

        return await self._read(lambda conn: _documents(conn, "consents", clause, params, "pk", page))

    async def append_access_log_serially(
        self, tenant: str, records: list[dict[str, Any]], *, wait: bool = True
    ) -> None:
        """Linked and appended by the writer process (`log_writer_process`), in its transaction."""
        if not records:
            return
        done = self._access_log.add(tenant, records, now=wait)
        if done is not None:
            await asyncio.shield(done)

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
        await self._access_log.flush()  # records appended before are committed
        return await self._read(lambda conn: access_log.read(conn, tenant, subject, recipient, since, until, page))

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        await self._access_log.flush()  # records appended before are committed
        return await self._read(lambda conn: access_log.index_faults(conn, tenant))

    async def access_log_head(self, tenant: str) -> tuple[int, str]:
        await self._access_log.flush()  # records appended before are committed

        def run(conn: sqlite3.Connection) -> tuple[int, str]:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (access_log.head_key(tenant),)).fetchone()
            if row is None:
                return 0, ""
            count, last = orjson.loads(row[0])
            return int(count), str(last)

        return await self._read(run)

    async def drop_notifications_of(self, tenant: str, subject: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM outbox WHERE tenant = ? AND subject = ?", (tenant, subject)).rowcount

        return await self._write(run)

    async def setting(self, key: str, default: str) -> str:
        def run(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)", (f"setting:{key}", default))
            return conn.execute("SELECT value FROM meta WHERE key = ?", (f"setting:{key}",)).fetchone()[0]

        return await self._write(run)
