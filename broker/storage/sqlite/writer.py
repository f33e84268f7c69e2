"""Group commit: one thread owns the write connection and runs every queued job of a round in one
transaction, each job in its own savepoint, then commits once. Many concurrent requests therefore
share one fsync instead of queueing on one each, and a failing job rolls back alone.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from broker.storage.sqlite.checkpointer import Checkpointer
from broker.storage.sqlite.connection import WriteLock, shared_file
from broker.storage.sqlite.schema import connect

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

MAX_GROUP = 512
LOG_SIZE_LIMIT = 64 * 2**20  # bytes of write-ahead log kept on disk once it starts over
ANALYZE_AFTER = 1000  # rows changed: the planner's statistics are refreshed then, and each time the count doubles
ANALYZE_SAMPLE = 1000  # rows read per index by one ANALYZE (PRAGMA analysis_limit): a bounded cost at any size


def analyze(conn: sqlite3.Connection) -> None:
    """Refresh the query planner's statistics (`sqlite_stat1`) from a bounded sample of each index.

    Without them SQLite cannot tell a selective index from an unselective one with as many equality
    columns: `q=humidity==42` then walked every `humidity` row of `attributes_by_kind` (name, kind)
    instead of the few of `attributes_by_num` (name, num), 8.4 ms instead of 1.4 ms at 10,000 entities.
    Other connections load statistics only with the schema, so the same transaction recreates the view
    `planner_statistics`: the schema changes, and every connection of every process reloads them.
    """
    conn.execute(f"PRAGMA analysis_limit={ANALYZE_SAMPLE}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ANALYZE")
        conn.execute("DROP VIEW IF EXISTS planner_statistics")
        conn.execute("CREATE VIEW planner_statistics AS SELECT tbl, idx, stat FROM sqlite_stat1")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _settle(fut: asyncio.Future[Any], ok: bool, result: Any) -> None:
    if fut.cancelled():
        return
    if ok:
        fut.set_result(result)
    else:
        fut.set_exception(result)


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, result in outcomes:
        try:
            _settle(fut, ok, result)
        except BaseException as exc:  # e.g. StopIteration cannot be set: the others still settle
            if not fut.done():
                fut.set_exception(RuntimeError(f"write failed: {exc!r}"))


class GroupCommitWriter:
    def __init__(self, path: str, after_group: Callable[[], None] | None = None) -> None:
        self._path = path
        self._after_group = after_group  # run once each group's transaction has ended, still under the lock
        self._checkpointer = Checkpointer(path) if shared_file(path) else None
        self._queue: queue.SimpleQueue[tuple[Job, asyncio.Future[Any], asyncio.AbstractEventLoop] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.commits = 0  # rounds committed, for tests and metrics

    def start(self, init: Job) -> None:
        self._thread = threading.Thread(target=self._run, args=(init,), name="sqlite-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        if self._checkpointer is not None:
            self._checkpointer.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._checkpointer is not None:
            self._checkpointer.stop()

    async def submit(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in the next group; returns once its group is committed (durable)."""
        return await asyncio.shield(self.enqueue(job))

    def enqueue(self, job: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `job` for the next group now; the future settles once its group is committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, fut, loop))
        return fut

    def _run(self, init: Job) -> None:
        lock: WriteLock | None = None
        try:
            conn = connect(self._path)
            if self._checkpointer is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's thread does it (see there)
                conn.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")  # the log file shrinks back to this
            lock = WriteLock(self._path)
            with lock:
                init(conn)
                # also when the store has statistics already: skipping it, a store seeded to 1,000,000
                # entities (its statistics last taken at about 570,000) gave updates a p99 of 430-650 ms
                # instead of 63-190 ms (make bench); why those statistics hurt is not pinned down yet
                self._analyze(conn)
        except BaseException as exc:  # reported to start()
            if lock is not None:
                lock.close()
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        stopping = False
        next_analyze = conn.total_changes + ANALYZE_AFTER
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            # queued behind the other processes' writers rather than polling SQLite's lock; the group
            # is gathered once the lock is ours, so it takes in what arrived while we waited for it
            with lock:
                group = [item]
                while len(group) < MAX_GROUP:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stopping = True
                        break
                    group.append(nxt)
                try:
                    outcomes = self._run_group(conn, group)
                finally:
                    if self._after_group is not None:
                        self._after_group()
                if conn.total_changes >= next_analyze:  # the store grew: what was selective may no longer be
                    self._analyze(conn)
                    next_analyze = conn.total_changes * 2
            self._wake(group, outcomes)
        conn.close()
        lock.close()

    def _run_group(self, conn: sqlite3.Connection, group: list[Any]) -> list[tuple[bool, Any]]:
        """The group's jobs, each in its savepoint, in one transaction committed at the end."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _fut, _loop in group:
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except BaseException as exc:  # the job's own failure: undo just this job
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((True, result))
            conn.execute("COMMIT")
            self.commits += 1
            if self._checkpointer is not None:
                self._checkpointer.committed()
        except BaseException as exc:  # the commit itself failed: nothing of the group is durable
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            outcomes = [(False, exc) for _ in group]
        return outcomes

    @staticmethod
    def _analyze(conn: sqlite3.Connection) -> None:
        try:
            analyze(conn)
        except sqlite3.Error:  # statistics are an optimisation: a failure leaves the old ones
            pass

    def _wake(self, group: list[Any], outcomes: list[tuple[bool, Any]]) -> None:
        """Settle each job's future on its caller's loop."""
        # one wake-up of each caller's loop for the whole group, not one per job (each is a write to
        # the loop's self-pipe and a turn of its selector)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_job, fut, loop), (ok, result) in zip(group, outcomes):
            by_loop.setdefault(loop, []).append((fut, ok, result))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the caller's loop is gone (shutdown); the write is still durable
                pass
