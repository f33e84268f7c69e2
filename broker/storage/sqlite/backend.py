"""`Storage` on SQLite: reads on a small pool of read-only connections, writes group-committed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import orjson

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity
from broker.storage.codec import attrs_from_doc, attrs_to_doc
from broker.storage.port import EntityFilter, Page, StorageUnavailable, TypeSummary
from broker.storage.sqlite.filters import filter_sql, scopes_sql
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


def _write_attribute_rows(conn: sqlite3.Connection, pk: int, entity: Entity) -> None:
    conn.execute("DELETE FROM attributes WHERE entity_pk = ?", (pk,))
    conn.executemany(
        "INSERT INTO attributes(entity_pk, name, type) VALUES(?, ?, ?)",
        [(pk, name, attr.type) for name, attr in entity.attrs.items()],
    )


class SqliteStorage:
    def __init__(self, path: str, *, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self._writer = GroupCommitWriter(path)
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
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._pool is not None, "storage not started"
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(self._reader()))
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
        self, tenant: str, flt: EntityFilter, page: Page, *, count: bool = False
    ) -> tuple[list[Entity], int | None]:
        where, params = filter_sql(tenant, flt)

        def run(conn: sqlite3.Connection) -> tuple[list[Entity], int | None]:
            rows = conn.execute(
                f"SELECT {_ENTITY_COLUMNS} FROM entities e WHERE {where} ORDER BY e.pk LIMIT ? OFFSET ?",
                params + [page.limit, page.offset],
            ).fetchall()
            total = None
            if count:
                total = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            return [_row_to_entity(r) for r in rows], total

        return await self._read(run)

    async def insert_entity(self, tenant: str, entity: Entity) -> bool:
        attrs = orjson.dumps(attrs_to_doc(entity)).decode()

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO entities(tenant, id, type, service_path, cre_date, mod_date, version, attrs)"
                " VALUES(?, ?, ?, ?, ?, ?, 1, ?)",
                (tenant, entity.id, entity.type, entity.service_path, entity.cre_date, entity.mod_date, attrs),
            )
            if cur.rowcount == 0:
                return False
            _write_attribute_rows(conn, cur.lastrowid, entity)
            return True

        return await self._write(run)

    async def replace_entity(self, tenant: str, entity: Entity) -> bool:
        attrs = orjson.dumps(attrs_to_doc(entity)).decode()

        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "UPDATE entities SET mod_date = ?, version = version + 1, attrs = ?"
                " WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
                " RETURNING pk",
                (entity.mod_date, attrs, tenant, entity.id, entity.type, entity.service_path, entity.version),
            ).fetchone()
            if row is None:
                return False
            _write_attribute_rows(conn, row[0], entity)
            return True

        return await self._write(run)

    async def delete_entity(self, tenant: str, entity: Entity) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM entities WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
                " RETURNING pk",
                (tenant, entity.id, entity.type, entity.service_path, entity.version),
            ).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM attributes WHERE entity_pk = ?", (row[0],))
            return True

        return await self._write(run)

    # -- types -----------------------------------------------------------------------------
    async def list_types(
        self, tenant: str, scopes: tuple[ServicePathScope, ...], page: Page, *, details: bool = True
    ) -> tuple[list[TypeSummary], int]:
        sp, sp_params = scopes_sql(scopes)
        where = "e.tenant = ?" + (f" AND {sp}" if sp else "")
        params = [tenant] + sp_params

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
                    f" WHERE {where} AND e.type IN ({marks}) ORDER BY a.name, a.type",
                    params + [s.type for s in summaries],
                ):
                    by_type[t].attrs.setdefault(name, set()).add(atype)
            return summaries, total

        return await self._read(run)

    async def get_type(
        self, tenant: str, type_name: str, scopes: tuple[ServicePathScope, ...]
    ) -> TypeSummary | None:
        sp, sp_params = scopes_sql(scopes)
        where = "e.tenant = ? AND e.type = ?" + (f" AND {sp}" if sp else "")
        params = [tenant, type_name] + sp_params

        def run(conn: sqlite3.Connection) -> TypeSummary | None:
            n = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            if n == 0:
                return None
            summary = TypeSummary(type=type_name, count=n)
            for name, atype in conn.execute(
                f"SELECT DISTINCT a.name, a.type FROM entities e JOIN attributes a ON a.entity_pk = e.pk"
                f" WHERE {where} ORDER BY a.name, a.type",
                params,
            ):
                summary.attrs.setdefault(name, set()).add(atype)
            return summary

        return await self._read(run)
