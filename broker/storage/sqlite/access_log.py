"""The access log on SQLite: sealed appends in few statements, and a subject index filled in batches.

Reads log one record per personal entity they show, so appends are the hot path. Two choices keep
them cheap:

- Reads' disclosures are committed together, at most every `FLUSH_INTERVAL` (`AccessLogBuffer`),
  and one job inserts all of them with a handful of statements: each commit writes WAL frames,
  fsyncs and makes every reader connection drop its page cache, and the writer thread gives up
  the GIL on every statement step, each a chance to wait for it behind the event loop.
- The index by subject is not updated row by row. Each record's subject lands on a random page of
  such an index, so a commit of 20 records wrote some 20 index pages to the WAL. Instead, once
  `FOLD_ROWS` records are past the indexed mark, they are folded into `access_log_subjects` in
  subject order (few pages, each written once), and a read by subject takes the indexed records
  from that table and scans only the short tail after the mark.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import orjson

from broker.logs import event

if TYPE_CHECKING:
    from broker.storage.sqlite.writer import GroupCommitWriter

Seal = Callable[[str, dict[str, Any]], str]
Batch = tuple[str, list[dict[str, Any]], Seal]  # tenant, records, seal

ROWS_PER_INSERT = 500  # rows of one multi-row INSERT (6 parameters each, well under SQLite's limit)
FLUSH_INTERVAL = 0.01  # seconds: reads' disclosures are committed at most this often
FOLD_ROWS = 8192  # unindexed records that trigger a fold into the subject index
INDEXED_KEY = "access_log_indexed"  # meta: every record with seq <= this is in access_log_subjects

DDL = """
CREATE TABLE IF NOT EXISTS access_log_subjects(  -- by subject, filled in batches by fold()
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(tenant, subject, seq)
) WITHOUT ROWID;
"""


def head_key(tenant: str) -> str:
    return f"access_log_head:{tenant}"


def migrate(conn: sqlite3.Connection) -> None:
    """Stores made before the batched index had a row-by-row one: fold what they hold, once."""
    conn.executescript(DDL)
    conn.execute("DROP INDEX IF EXISTS access_log_by_subject")
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (INDEXED_KEY,)).fetchone() is None:
        fold(conn, 0)


def fold(conn: sqlite3.Connection, indexed: int) -> None:
    """Index the subjects of every record after `indexed`, in subject order, and move the mark."""
    last = conn.execute("SELECT max(seq) FROM access_log").fetchone()[0] or 0
    conn.execute(
        "INSERT OR IGNORE INTO access_log_subjects(tenant, subject, seq)"
        " SELECT tenant, subject, seq FROM access_log WHERE seq > ? AND subject IS NOT NULL ORDER BY tenant, subject, seq",
        (indexed,),
    )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (INDEXED_KEY, str(max(last, indexed))),
    )


def append(conn: sqlite3.Connection, batches: list[Batch]) -> None:
    """Seal and insert the batches' records in order, each tenant's chain continuing from its head."""
    keys = sorted({head_key(tenant) for tenant, _, _ in batches})
    heads: dict[str, tuple[int, str]] = {key: (0, "") for key in keys}
    last, indexed = 0, 0
    for key, value in conn.execute(
        "SELECT NULL, max(seq) FROM access_log UNION ALL SELECT key, value FROM meta"
        f" WHERE key IN ({','.join('?' * (len(keys) + 1))})",
        [INDEXED_KEY, *keys],
    ).fetchall():
        if key is None:
            last = value or 0
        elif key == INDEXED_KEY:
            indexed = int(value)
        else:
            count, prev = orjson.loads(value)
            heads[key] = (count, prev)
    rows: list[tuple[Any, ...]] = []
    for tenant, records, seal in batches:
        key = head_key(tenant)
        count, prev = heads[key]
        for record in records:
            record = dict(record, prev=prev)
            record["hash"] = seal(prev, record)
            last += 1
            record["seq"] = last
            rows.append((last, tenant, record["time"], record.get("subject"), record.get("recipient"), orjson.dumps(record).decode()))
            count, prev = count + 1, record["hash"]
        heads[key] = (count, prev)
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        conn.execute(
            "INSERT INTO access_log(seq, tenant, time, subject, recipient, doc) VALUES "
            + ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)),
            [value for row in chunk for value in row],
        )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES " + ",".join(["(?, ?)"] * len(keys))
        + " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [v for key in keys for v in (key, orjson.dumps(list(heads[key])).decode())],
    )
    if last - indexed >= FOLD_ROWS:
        fold(conn, indexed)


def where(
    tenant: str, subject: str | None, recipient: str | None, since: float | None, until: float | None
) -> tuple[str, list[Any]]:
    """WHERE over `access_log` for a read; by subject, through the index and the unindexed tail."""
    clauses = ["tenant = ?"]
    params: list[Any] = [tenant]
    if subject is not None:
        clauses.append(
            "subject = ? AND seq IN (SELECT s.seq FROM access_log_subjects s WHERE s.tenant = ? AND s.subject = ?"
            " UNION ALL SELECT t.seq FROM access_log t WHERE t.seq >"
            f" (SELECT CAST(value AS INTEGER) FROM meta WHERE key = '{INDEXED_KEY}'))"
        )
        params += [subject, tenant, subject]
    for column, op, value in (("recipient", "=", recipient), ("time", ">=", since), ("time", "<", until)):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(clauses), params


def _report_failure(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        event(logging.ERROR, "access log append failed", error=repr(fut.exception()))


@dataclass
class _Pending:
    """Records of one event loop not yet taken by the writer, and the future of the job taking them."""

    batches: list[Batch]
    done: asyncio.Future[None]
    timer: asyncio.TimerHandle | None = None  # set while the job waits for its moment
    queued: bool = False


def _copy_outcome(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(None)


class AccessLogBuffer:
    """Records waiting for the writer, taken all at once by one job.

    Appends made before the job runs join it, so many requests' records go in with one set of
    statements and one commit. Appends that need not wait (a read's disclosures) are queued at
    most once every `interval` seconds: under load the log commits about 100 times a second
    instead of once or twice per request, and every commit also makes each reader connection
    drop its page cache. An append that waits (`now=True`) queues the job at once, taking the
    records held so far with it.
    """

    def __init__(self, writer: GroupCommitWriter, interval: float | None = None) -> None:
        self._writer = writer
        self._interval = FLUSH_INTERVAL if interval is None else interval
        self._lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, _Pending] = {}
        self._last_queued: dict[asyncio.AbstractEventLoop, float] = {}

    def add(self, tenant: str, records: list[dict[str, Any]], seal: Seal, *, now: bool) -> asyncio.Future[None]:
        """The future settles once the records are committed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pending = self._pending.get(loop)
            if pending is None:
                pending = self._pending[loop] = _Pending([], loop.create_future())
                pending.done.add_done_callback(_report_failure)
            pending.batches.append((tenant, records, seal))
        if not pending.queued and pending.timer is None:
            delay = 0.0 if now else self._last_queued.get(loop, -self._interval) + self._interval - loop.time()
            if delay > 0:
                pending.timer = loop.call_later(delay, self._queue, loop, pending)
            else:
                self._queue(loop, pending)
        elif now and pending.timer is not None:
            self._queue(loop, pending)
        return pending.done

    async def flush(self) -> None:
        """Commit what this loop holds now (before a read of the log, and at close)."""
        loop = asyncio.get_running_loop()
        pending = self._pending.get(loop)
        if pending is None:
            return
        if not pending.queued:
            self._queue(loop, pending)
        try:
            await asyncio.shield(pending.done)
        except Exception:  # reported by _report_failure; a read of the log goes on without them
            pass

    def _queue(self, loop: asyncio.AbstractEventLoop, pending: _Pending) -> None:
        if pending.queued:
            return
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        pending.queued = True
        self._last_queued[loop] = loop.time()
        job = self._writer.enqueue(lambda conn: self._take(conn, loop, pending))
        job.add_done_callback(lambda fut: _copy_outcome(fut, pending.done))

    def _take(self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop, pending: _Pending) -> None:
        with self._lock:  # from here on, appends start a new batch
            if self._pending.get(loop) is pending:
                del self._pending[loop]
        append(conn, pending.batches)
