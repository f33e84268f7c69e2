"""The access log on SQLite: sealed appends in few statements, and a subject index filled in batches.

Reads log one record per personal entity they show, so appends are the hot path. Two choices keep
them cheap:

- Appends made while the writer is busy join one job (`AccessLogBuffer`), and a job inserts all its
  records with a handful of statements: the writer thread gives up the GIL on every statement
  step, and each step is a chance to wait for it behind the event loop.
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
from typing import TYPE_CHECKING, Any, Callable

import orjson

from broker.logs import event

if TYPE_CHECKING:
    from broker.storage.sqlite.writer import GroupCommitWriter

Seal = Callable[[str, dict[str, Any]], str]
Batch = tuple[str, list[dict[str, Any]], Seal]  # tenant, records, seal

ROWS_PER_INSERT = 500  # rows of one multi-row INSERT (6 parameters each, well under SQLite's limit)
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


class AccessLogBuffer:
    """Records waiting for the writer, taken all at once by one job.

    Appends made while a job is queued join it, so a busy writer appends many requests' records
    with one set of statements, and a caller that waits awaits the job that took its records.
    """

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        # per event loop: the batches not yet taken, and the future of the job that will take them
        self._pending: dict[asyncio.AbstractEventLoop, tuple[list[Batch], asyncio.Future[None]]] = {}

    def add(self, tenant: str, records: list[dict[str, Any]], seal: Seal) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._pending.get(loop)
            if held is not None:
                held[0].append((tenant, records, seal))
                return held[1]
            done = self._writer.enqueue(lambda conn: self._take(conn, loop))
            done.add_done_callback(_report_failure)
            self._pending[loop] = ([(tenant, records, seal)], done)
            return done

    def _take(self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batches, _ = self._pending.pop(loop)
        append(conn, batches)
