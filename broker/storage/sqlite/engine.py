"""The SQLite file every role of the backend shares: reads on a small pool of read-only
connections (one per thread), writes group-committed by one writer thread, and the row helpers
several roles use."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from broker.ngsi.selection import Page, Visibility
from broker.storage.port import StorageUnavailable
from broker.storage.sqlite import visibility as visible
from broker.storage.sqlite.schema import connect, migrate
from broker.storage.sqlite.writer import GroupCommitWriter

T = TypeVar("T")


class SqliteEngine:
    def __init__(self, path: str, *, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self.writer = GroupCommitWriter(path)
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def start(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        try:
            await asyncio.to_thread(self.writer.start, migrate)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open database {self.path}: {exc}") from exc
        self._pool = ThreadPoolExecutor(max_workers=self._readers, thread_name_prefix="sqlite-reader")

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        await asyncio.to_thread(self.writer.stop)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

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

    async def read(self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None = None) -> T:
        """`fn` on a reader connection; SQL compiled from `visibility` needs its subject sets there."""
        assert self._pool is not None, "storage not started"
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._on_reader, fn, visibility)
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` in the writer's next group commit."""
        try:
            return await self.writer.submit(fn)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc


def bump_version(conn: sqlite3.Connection, key: str) -> None:
    """Caches in every process on this file (subscriptions, consents) reload when the number moves."""
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (key,),
    )


def document(conn: sqlite3.Connection, table: str, tenant: str, id_: str) -> dict[str, Any] | None:
    """The `doc` column of one tenant's row by id, or None."""
    row = conn.execute(f"SELECT doc FROM {table} WHERE tenant = ? AND id = ?", (tenant, id_)).fetchone()
    return orjson.loads(row[0]) if row else None


def documents(
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
