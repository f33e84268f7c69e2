"""The SQLite file every role of the backend shares: reads on a small pool of read-only
connections (one per thread), bounded point lookups on the event loop's own connection, writes
group-committed by one writer thread, and the row helpers several roles use."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from broker.ngsi.selection import Page, Visibility
from broker.storage.port import StorageUnavailable
from broker.storage.sqlite import visibility as visible
from broker.storage.sqlite.generation import SharedGeneration
from broker.storage.sqlite.schema import connect, migrate
from broker.storage.sqlite.writer import GroupCommitWriter

T = TypeVar("T")

# SQLite virtual-machine instructions a lookup may run on the event loop before it is moved to the
# pool (about 50 ns each here); a lookup by key runs a few hundred, 100,000 is about 5 ms.
LOOKUP_BUDGET = 100_000
# the same for a query whose cost grows with the data (`attempt`): about half a millisecond. A page of
# 20 entities found through a selective index runs about 1,100 instructions.
ATTEMPT_BUDGET = 10_000
# a query shape that ran past ATTEMPT_BUDGET goes straight to the pool for this many seconds
HEAVY_FOR_S = 30.0
MAX_HEAVY_SHAPES = 1_024
_BUDGET_STEP = 1_000  # the progress handler's period, in instructions
# granted subjects a lookup may copy into the loop connection's temporary tables (visibility.materialise)
LOOKUP_MAX_NEW_SUBJECTS = 1_024


class _Budget:
    """The instructions left to the current lookup (SQLite calls `__call__` every `_BUDGET_STEP`)."""

    def __init__(self) -> None:
        self.steps_left = 0

    def __call__(self) -> int:
        self.steps_left -= 1
        return 1 if self.steps_left < 0 else 0  # non-zero interrupts the statement


class _LoopConnection:
    """The event loop thread's reader: no busy wait (a lock would stall the loop), a budget."""

    def __init__(self, path: str) -> None:
        self.conn = connect(path, readonly=True)
        self.conn.execute("PRAGMA busy_timeout=0")
        self.budget = _Budget()
        self.conn.set_progress_handler(self.budget, _BUDGET_STEP)
        self.subject_sets: OrderedDict[str, None] = OrderedDict()


class SqliteEngine:
    def __init__(self, path: str, *, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self.generation: SharedGeneration | None = None  # while started
        self.writer = GroupCommitWriter(path, after_group=self._settle_generation)
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.inline_fallbacks = 0  # lookups moved from the event loop to the pool (tests, metrics)
        self._heavy: OrderedDict[str, float] = OrderedDict()  # query shape -> pool only until (monotonic)

    async def start(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self.generation = SharedGeneration(self.path)
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
        if self.generation is not None:
            self.generation.close()
            self.generation = None
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()  # no thread keeps a closed connection if the engine starts again

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            self._local.subject_sets = OrderedDict()
            with self._lock:
                self._connections.append(conn)
        return conn

    def _loop_connection(self) -> _LoopConnection:
        held: _LoopConnection | None = getattr(self._local, "loop_conn", None)
        if held is None:
            held = self._local.loop_conn = _LoopConnection(self.path)
            with self._lock:
                self._connections.append(held.conn)
        return held

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

    async def lookup(self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None = None) -> T:
        """`fn`, a read bounded by construction (rows found by primary key or a unique index), run
        right here on the event loop instead of on the reader pool.

        The hop to a reader thread and back (a queue, a wake-up of the loop through its self-pipe,
        two GIL hand-overs) costs more than such a read itself: at 10,000 entities `GET
        /v2/entities/{id}` went from about 3,300 to 7,000 requests/s without it. The loop must never
        stall, so the read runs under a budget of SQLite instructions (`LOOKUP_BUDGET`) and never waits
        for a lock (busy_timeout 0, which WAL readers almost never meet): past its budget, on a lock,
        or when the caller's visibility needs many granted subjects copied first, the same `fn` runs
        on the pool instead. Lists, counts and q or geo queries, whose cost grows with the data, use
        `attempt` or `read`.
        """
        done, result = self._inline(fn, visibility, LOOKUP_BUDGET)
        if done:
            return result  # type: ignore[return-value]
        self.inline_fallbacks += 1
        return await self.read(fn, visibility)

    async def attempt(self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None, shape: str) -> T:
        """`fn`, a read whose cost grows with the data, tried on the event loop under a small budget
        (`ATTEMPT_BUDGET`, about half a millisecond) and finished on the pool when it runs past it.

        Most list queries an application repeats (a page of 20 through a selective index) fit easily,
        and then skip the pool's hop and its GIL hand-overs: `GET /v2/entities?type=T&q=...&limit=20`
        at 16 connections went from about 1,600 to 2,100 requests/s. A `shape` (the query's SQL
        text) that ran past the budget goes to the pool at once for the next `HEAVY_FOR_S` seconds,
        so a heavy query wastes its budget on the loop once, not on every call.
        """
        now = time.monotonic()
        heavy_until = self._heavy.get(shape)
        if heavy_until is not None and now < heavy_until:
            return await self.read(fn, visibility)
        done, result = self._inline(fn, visibility, ATTEMPT_BUDGET)
        if done:
            return result  # type: ignore[return-value]
        self.inline_fallbacks += 1
        self._heavy[shape] = now + HEAVY_FOR_S
        self._heavy.move_to_end(shape)
        if len(self._heavy) > MAX_HEAVY_SHAPES:
            self._heavy.popitem(last=False)
        return await self.read(fn, visibility)

    def _inline(
        self, fn: Callable[[sqlite3.Connection], T], visibility: Visibility | None, budget: int
    ) -> tuple[bool, T | None]:
        """(True, `fn`'s result) run on the loop's connection within `budget` instructions, or
        (False, None) when it ran past it, met a lock or needs too many subjects copied first; a
        budget of 0 runs nothing here."""
        assert self._pool is not None, "storage not started"
        if budget <= 0:
            return False, None
        held = self._loop_connection()
        if visibility is not None and visible.missing_subjects(visibility, held.subject_sets) > LOOKUP_MAX_NEW_SUBJECTS:
            return False, None
        held.budget.steps_left = budget // _BUDGET_STEP
        try:
            visible.materialise(held.conn, visibility, held.subject_sets)
            return True, fn(held.conn)
        except sqlite3.OperationalError:  # interrupted past the budget, or a lock: the pool may wait
            return False, None
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc

    def _settle_generation(self) -> None:
        if self.generation is not None:
            self.generation.settle()

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
