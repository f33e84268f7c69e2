"""SQLite-specific: the access log's writer process and the pipe to it."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from broker.personal import access_log
from broker.personal.access_log_append import append
from broker.storage.port import StorageUnavailable
from broker.storage.sqlite import SqliteStorage
from broker.storage.sqlite.connection import open_connection
from broker.storage.sqlite.log_writer_process import encode, mark_key, serve
from tests.access_log_records import record as _record


async def _entity_ids(store: SqliteStorage) -> list[str]:
    records, _ = await store.read_access_log("t")
    assert access_log.verify(records, await store.access_log_head("t"))["valid"] is True
    return [r["entityId"] for r in records]


def _hold_write_lock(path: str) -> tuple[sqlite3.Connection, threading.Event]:
    """Another connection holds the file's write lock until the event is set."""
    conn = open_connection(path)
    conn.execute("BEGIN IMMEDIATE")
    release = threading.Event()

    def wait() -> None:
        release.wait()
        conn.execute("ROLLBACK")
        conn.close()

    threading.Thread(target=wait, daemon=True).start()
    return conn, release


async def test_disclosures_handed_over_are_read_back_at_once_and_committed_at_close(tmp_path: Path):
    path = str(tmp_path / "h.db")
    store = SqliteStorage(path)
    await store.start()
    await append(store, "t", [_record(0)], wait=False)
    records, total = await store.read_access_log("t", subject="alice")  # a read of the log waits for them
    assert total == 1 and records[0]["entityId"] == "E0"
    await append(store, "t", [_record(1), _record(2, "bob")], wait=False)
    await store.close()  # commits them and stops the writer

    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _entity_ids(store) == ["E0", "E1", "E2"]
        marks = await store._read(
            lambda c: c.execute("SELECT count(*) FROM meta WHERE key LIKE 'access_log_writer:%'").fetchone()[0]
        )
        assert marks == 0  # a writer that stopped in order leaves no mark
    finally:
        await store.close()


async def test_appends_made_while_the_file_is_locked_are_committed_together_in_order(tmp_path: Path):
    path = str(tmp_path / "c.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        await append(store, "t", [_record(0)])  # the writer is up
        before = store._access_log.commits
        _, release = _hold_write_lock(path)
        for i in range(1, 10):
            await append(store, "t", [_record(i)], wait=False)
        last = asyncio.ensure_future(append(store, "t", [_record(10)]))
        await asyncio.sleep(0.3)
        assert not last.done()  # not committed while the file is locked
        release.set()
        await asyncio.wait_for(last, timeout=30)
        assert store._access_log.commits - before <= 2  # the first append it took, then all the others
        assert await _entity_ids(store) == [f"E{i}" for i in range(11)]
    finally:
        await store.close()


async def test_a_writer_process_that_dies_is_started_again_and_nothing_is_lost_or_written_twice(tmp_path: Path):
    path = str(tmp_path / "k.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        await append(store, "t", [_record(0)])
        child = store._access_log._proc
        assert child is not None
        _, release = _hold_write_lock(path)
        for i in range(1, 6):  # read by the child, not committed: the file is locked
            await append(store, "t", [_record(i)], wait=False)
        await asyncio.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
        await asyncio.to_thread(child.wait)
        await append(store, "t", [_record(6)], wait=False)  # while it is down
        release.set()
        await asyncio.wait_for(append(store, "t", [_record(7)]), timeout=30)
        assert store._access_log._proc is not child
        assert await _entity_ids(store) == [f"E{i}" for i in range(8)]
    finally:
        await store.close()


def _serve(path: str, token: str, frames: list[bytes]) -> list[dict]:
    """Run the child's loop on these frames; its messages."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"".join(frames))
    os.close(write_end)
    out = io.BytesIO()
    conn = open_connection(path)
    try:
        serve(conn, token, read_end, out, access_log.link)
    finally:
        conn.close()
        os.close(read_end)
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_frames_sent_again_after_a_restart_are_skipped_when_committed_before(tmp_path: Path):
    path = str(tmp_path / "r.db")
    store = SqliteStorage(path)
    await store.start()
    await store.close()
    conn = open_connection(path)
    conn.execute("INSERT INTO meta(key, value) VALUES(?, '0')", (mark_key("tok"),))
    conn.close()
    # a first child commits frames 1-3, then dies before the parent reads its acknowledgement
    first = _serve(path, "tok", [encode(n, "t", [_record(n)], ack=True) for n in (1, 2, 3)])
    assert first == [{"ready": 0}, {"ok": 3, "commits": 1}]  # read at once: one transaction
    conn = open_connection(path)
    conn.execute("INSERT INTO meta(key, value) VALUES(?, '3')", (mark_key("tok2"),))  # as if it had not stopped
    conn.close()
    # the next child of that parent is sent 1-5 again: it says 3 were done and appends 4 and 5 only
    again = _serve(path, "tok2", [encode(n, "t", [_record(n)], ack=True) for n in (1, 2, 3, 4, 5)])
    assert again == [{"ready": 3}, {"ok": 5, "commits": 1}]
    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _entity_ids(store) == ["E1", "E2", "E3", "E4", "E5"]
    finally:
        await store.close()


async def test_the_child_acknowledges_only_when_asked_or_after_the_interval(tmp_path: Path):
    path = str(tmp_path / "a.db")
    store = SqliteStorage(path)
    await store.start()
    await store.close()
    unasked = [encode(n, "t", [_record(n)], ack=False) for n in (1, 2)]
    assert _serve(path, "tok", unasked) == [{"ready": 0}]  # committed, not said: nobody waits
    asked = [encode(n, "t", [_record(n)], ack=False) for n in (3, 4)] + [encode(5, "", [], ack=True)]
    assert _serve(path, "tok2", asked) == [{"ready": 0}, {"ok": 5, "commits": 1}]
    assert _serve(path, "tok3", [encode(1, "", [], ack=True)]) == [
        {"ready": 0},
        {"ok": 1, "commits": 0},
    ]  # no transaction
    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _entity_ids(store) == ["E1", "E2", "E3", "E4"]
    finally:
        await store.close()


async def test_a_failed_append_fails_its_waiter_and_the_next_appends_go_on(tmp_path: Path):
    path = str(tmp_path / "f.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        await store._write(
            lambda c: c.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log_packs WHEN NEW.tenant = 'bad'"
                " BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
        with pytest.raises(StorageUnavailable, match="refused"):
            await asyncio.wait_for(append(store, "bad", [_record(0)]), timeout=30)
        await asyncio.wait_for(append(store, "t", [_record(1)]), timeout=30)
        assert await _entity_ids(store) == ["E1"]
        assert (await store.read_access_log("bad"))[1] == 0
    finally:
        await store.close()


async def test_a_record_that_is_not_json_is_refused_and_nothing_is_sent(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "s.db"))
    await store.start()
    try:
        with pytest.raises(TypeError):
            await append(store, "t", [{**_record(1), "time": object()}])
        await append(store, "t", [_record(2)])
        assert await _entity_ids(store) == ["E2"]
    finally:
        await store.close()


async def test_a_store_that_never_logs_starts_no_writer_process(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "n.db"))
    await store.start()
    try:
        assert (await store.read_access_log("t"))[1] == 0
        assert store._access_log._proc is None
    finally:
        started = time.monotonic()
        await store.close()
        assert time.monotonic() - started < 5


async def test_a_child_whose_parent_is_gone_commits_all_of_its_input(tmp_path: Path):
    path = str(tmp_path / "o.db")
    store = SqliteStorage(path)
    await store.start()
    await store.close()
    child = subprocess.Popen(
        [sys.executable, "-m", "broker.runtime.log_writer", path, "orphan"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdout.close()  # as after a SIGKILL of the parent: every `ready` or `ok` meets a broken pipe
    child.stdin.write(b"".join(encode(n, "t", [_record(n)], ack=True) for n in (1, 2, 3)))
    child.stdin.close()
    assert child.stderr is not None
    errors = await asyncio.to_thread(child.stderr.read)
    assert await asyncio.to_thread(child.wait, 30) == 0, errors.decode()
    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _entity_ids(store) == ["E1", "E2", "E3"]
    finally:
        await store.close()
