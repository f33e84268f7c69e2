"""The access log's own writer process (started as `python -m broker.runtime.log_writer PATH TOKEN`).

A serving process hands its access-log records to this child over a pipe and goes on (the parent
side is `log_writer.LogWriter`). The child links (the chain's one rule, `broker.personal.access_log.link`,
which the process's entry point in broker/runtime imports and hands in), packs and appends them to the store's file with
its own connection, so that work runs outside the serving process's GIL: the serving process is
bound by the one core its Python code can use, and the log's Python work, a few microseconds per
record with one record per personal entity shown, had taken about a tenth of it.

Protocol. Down the pipe (stdin): frames, each a 4-byte little-endian length and an orjson array
`[number, tenant, records, ack]`, numbered from 1 in order; a frame without records only asks for an acknowledgement. Up (stdout),
one JSON object per line: `{"ready": n}` once at start; `{"ok": n, "commits": k}` after a read
of frames one of which has `ack` true, or after a commit at least `ACK_INTERVAL` after the last
acknowledgement (k transactions committed since it; a quiet child says nothing, and the parent
keeps the frames committed since its last `ok` until it asks or more come); `{"failed": n, "error": ...}` at once when a transaction could
not commit (its records are dropped, as a failed write is). `n` is the highest frame number
settled. Acknowledgements are few because each costs the parent a wake-up of a thread under its
GIL; the parent asks for one when something waits for it.

Every frame taken is appended in one transaction with the others read at the same time, and the
transaction also records, under `access_log_writer:TOKEN` in `meta`, the last frame number in it.
A child started again for the same parent (after a crash) reads that mark, says it in `ready`, and
skips the frames the parent sends again that were committed already: none is lost, none is
written twice. The child stops at end of input, once all it read is committed, even when its parent
was killed and nobody reads its acknowledgements any more (it goes on silent); it ignores SIGINT
and SIGTERM, so that a signal to the process group lets the parent close it in order.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sqlite3
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from broker.storage.sqlite import access_log
from broker.storage.sqlite.connection import WriteLock, open_connection

_LENGTH = struct.Struct("<I")
READ_SIZE = 1 << 20
ACK_INTERVAL = 0.05  # seconds: how stale the parent's list of frames not yet committed may get


def mark_key(token: str) -> str:
    return f"access_log_writer:{token}"


def encode(number: int, tenant: str, records: list[dict[str, Any]], *, ack: bool) -> bytes:
    body = orjson.dumps([number, tenant, records, ack])
    return _LENGTH.pack(len(body)) + body


class FrameReader:
    """Whole frames from a file descriptor: each call blocks for one, then takes all that are there."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False

    def frames(self) -> list[list[Any]] | None:
        """The frames read now, or None at end of input (a frame cut short by it is dropped)."""
        while True:
            found = self._take()
            if found:
                return found
            if self._eof:
                return None
            self._read()  # blocks until something comes
            while not self._eof and select.select([self._fd], [], [], 0)[0]:
                self._read()

    def _read(self) -> None:
        chunk = os.read(self._fd, READ_SIZE)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    def _take(self) -> list[list[Any]]:
        found, at, buffer = [], 0, self._buffer
        while len(buffer) - at >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, at)
            end = at + _LENGTH.size + size
            if end > len(buffer):
                break
            found.append(orjson.loads(buffer[at + _LENGTH.size : end]))
            at = end
        del buffer[:at]
        return found


class Parent:
    """The acknowledgement channel up to the parent; silent from the first write that fails.

    A parent killed (SIGKILL, a crash) leaves its child with frames still to commit and nobody to
    tell: the child must go on to the end of its input, not die of a broken pipe on `ready` or an
    acknowledgement, or the disclosures of answers already sent would be lost.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out: BinaryIO | None = out

    def say(self, **message: Any) -> None:
        if self._out is None:
            return
        try:
            self._out.write(orjson.dumps(message) + b"\n")
            self._out.flush()
        except (OSError, ValueError):  # the parent is gone (EPIPE) or closed its end
            self._out = None


def _committed(conn: sqlite3.Connection, token: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (mark_key(token),)).fetchone()
    return int(row[0]) if row else 0


def _batches(frames: list[list[Any]], done: int) -> Iterator[tuple[int, access_log.Batch]]:
    for number, tenant, records, _ in frames:
        if number <= done or not records:  # sent again after a restart (committed before it), or a bare ask
            continue
        yield number, (tenant, records)


def serve(
    conn: sqlite3.Connection,
    token: str,
    inp: int,
    out: BinaryIO,
    link: access_log.Link,
    lock: contextlib.AbstractContextManager[object] | None = None,
) -> None:
    """Append what arrives on `inp` until its end, linked by `link`, acknowledging commits on `out`
    while it listens; each transaction under `lock` (the store's `WriteLock`, so that this writer
    queues behind the broker's writers instead of polling SQLite's lock)."""
    lock = lock if lock is not None else contextlib.nullcontext()
    parent = Parent(out)
    done = _committed(conn, token)
    parent.say(ready=done)
    reader = FrameReader(inp)
    said, commits = time.monotonic(), 0
    while (frames := reader.frames()) is not None:
        last = max(frame[0] for frame in frames)
        asked = any(frame[3] for frame in frames)
        try:
            batches = [batch for _, batch in _batches(frames, done)]
            if batches:  # none when all was committed before a restart, or for a bare ask
                with lock:
                    conn.execute("BEGIN IMMEDIATE")
                    access_log.append(conn, batches, link)
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (mark_key(token), str(last)),
                    )
                    conn.execute("COMMIT")
        except Exception as exc:  # the transaction's records are dropped; the parent is told
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            done = last
            parent.say(failed=last, error=repr(exc))
        else:
            done, commits = max(done, last), commits + bool(batches)
            if asked or time.monotonic() - said >= ACK_INTERVAL:
                parent.say(ok=done, commits=commits)
                said, commits = time.monotonic(), 0
    conn.execute("DELETE FROM meta WHERE key = ?", (mark_key(token),))


def main(link: access_log.Link) -> None:
    """The child's body (`python -m broker.runtime.log_writer PATH TOKEN`, which hands in `link`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, token = sys.argv[1], sys.argv[2]
    conn = open_connection(path)
    lock = WriteLock(path)
    try:
        with open(sys.stdout.fileno(), "wb", buffering=0, closefd=False) as out:  # nothing left buffered at exit
            serve(conn, token, sys.stdin.fileno(), out, link, lock)
    finally:
        lock.close()
        conn.close()
