"""A connection to the store's file: every connection, in any process, has the same settings."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from types import TracebackType

from broker.observability.semwait import SEM_WAIT

# each wait of SQLite's busy handler is bounded by this many ms (see open_connection)
BUSY_TIMEOUT_MS = 30000


def open_connection(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit fsyncs the WAL: acknowledged means durable
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def shared_file(path: str) -> bool:
    """A store other processes can open beside this one (not `:memory:`, not a `file:` URI): only
    then are there lock and counter files next to it and a log to checkpoint."""
    return bool(path) and path != ":memory:" and not path.startswith("file:")


class WriteLock:
    """The store's write lock across processes: an exclusive `flock` on the file `PATH-writelock`,
    taken in turns through a second one on `PATH-writeturn`.

    Writers take it around their transactions (BEGIN IMMEDIATE ... COMMIT). SQLite's own lock does
    not queue anybody: a writer that finds it taken sleeps in its busy handler (1, 2, 5, 10 ... then
    100 ms at a time) and tries again, so between two processes that write continuously (the serving
    workers, the delivery worker) the one that holds it takes it back right after its commit and the
    other may lose for seconds. A waiter blocked on `flock` is woken by the kernel as soon as the
    holder lets go, but the holder could still take the lock back first: under a steady update load
    one of two workers waited 20-80 ms for it about once in a hundred groups. Hence the turnstile: a
    writer holds `-writeturn` while it waits for `-writelock`, so the holder, back for its next group,
    queues on the turnstile behind the one waiting and the two alternate. The kernel releases both
    locks of a process that dies. A store that is not a plain file (`:memory:`, `file:` URIs) has no
    lock files and no other process to share it with: the lock then does nothing.
    """

    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        self._turn: int | None = None
        if shared_file(path):
            self._fd = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._turn = os.open(path + "-writeturn", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def __enter__(self) -> WriteLock:
        if self._fd is not None and self._turn is not None:
            started = time.perf_counter()
            fcntl.flock(self._turn, fcntl.LOCK_EX)  # releases the GIL while it waits
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            finally:
                fcntl.flock(self._turn, fcntl.LOCK_UN)
            SEM_WAIT.add("dbConnectionPool", time.perf_counter() - started)  # the one writer's place
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._fd, self._turn):
            if fd is not None:
                os.close(fd)
        self._fd = self._turn = None
