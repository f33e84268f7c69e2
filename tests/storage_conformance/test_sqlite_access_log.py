"""SQLite-specific: the access log's batched subject index and its coalesced appends."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from broker.personal import access_log
from broker.storage.sqlite import SqliteStorage
from broker.storage.sqlite import access_log as sqlite_log


def _record(i: int, subject: str) -> dict:
    return access_log.disclosure(
        time=float(i), tenant="t", recipient="svc", subject=subject, entity_id=f"E{i}", entity_type="T",
        attrs=["a"], consents=("c1",), channel="query", correlator="x",
    )


async def _indexed(store: SqliteStorage) -> tuple[int, int]:
    """(the indexed mark, rows in the subject index)."""
    def run(conn: sqlite3.Connection) -> tuple[int, int]:
        mark = conn.execute("SELECT value FROM meta WHERE key = ?", (sqlite_log.INDEXED_KEY,)).fetchone()[0]
        return int(mark), conn.execute("SELECT count(*) FROM access_log_subjects").fetchone()[0]

    return await store._read(run)


async def _count(store: SqliteStorage) -> int:
    return await store._read(lambda conn: conn.execute("SELECT count(*) FROM access_log").fetchone()[0])


async def test_reads_by_subject_find_indexed_and_unindexed_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlite_log, "FOLD_ROWS", 10)
    store = SqliteStorage(str(tmp_path / "a.db"))
    await store.start()
    try:
        subjects = ["alice", "bob", "carol"]
        for i in range(26):  # appends of 2 records: folded at 10, 20, ... 50; 2 left in the tail
            await store.append_access_log("t", [_record(2 * i, subjects[i % 3]), _record(2 * i + 1, "bob")], access_log.seal)
        mark, rows = await _indexed(store)
        assert mark == 50 and rows == 50
        records, total = await store.read_access_log("t", subject="bob")
        expected = [r for r in range(1, 53) if r % 2 == 0 or ((r - 1) // 2) % 3 == 1]
        assert total == len(expected) and [r["seq"] for r in records] == expected
        assert all(r["subject"] == "bob" for r in records)
        page, total = await store.read_access_log("t", subject="alice", since=20.0, until=40.0)
        assert [r["entityId"] for r in page] == ["E24", "E30", "E36"] and total == 3
        assert (await store.read_access_log("other", subject="bob"))[1] == 0
        everything, _ = await store.read_access_log("t")
        assert access_log.verify(everything, await store.access_log_head("t"))["valid"] is True
    finally:
        await store.close()


async def test_a_store_with_the_old_row_by_row_index_is_folded_once_at_start(tmp_path: Path):
    path = str(tmp_path / "old.db")
    store = SqliteStorage(path)
    await store.start()
    await store.append_access_log("t", [_record(i, "alice" if i % 2 else "bob") for i in range(6)], access_log.seal)
    await store.close()
    conn = sqlite3.connect(path)  # as a broker before the batched index left it
    conn.execute("DROP TABLE access_log_subjects")
    conn.execute("DELETE FROM meta WHERE key = ?", (sqlite_log.INDEXED_KEY,))
    conn.execute("CREATE INDEX access_log_by_subject ON access_log(tenant, subject, seq)")
    conn.commit()
    conn.close()

    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _indexed(store) == (6, 6)
        indexes = await store._read(lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")])
        assert "access_log_by_subject" not in indexes
        records, total = await store.read_access_log("t", subject="alice")
        assert total == 3 and [r["entityId"] for r in records] == ["E1", "E3", "E5"]
    finally:
        await store.close()


async def test_appends_queued_while_the_writer_is_busy_share_one_job(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "c.db"))
    await store.start()
    try:
        release = asyncio.get_running_loop().create_future()
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        def hold(conn: sqlite3.Connection) -> None:  # keeps the writer busy until released
            loop.call_soon_threadsafe(started.set)
            while not release.done():
                time.sleep(0.001)

        busy = asyncio.ensure_future(store._writer.submit(hold))
        await started.wait()
        before = store._writer.commits
        waits = [store.append_access_log("t", [_record(i, "alice")], access_log.seal, wait=(i == 9)) for i in range(10)]
        tasks = [asyncio.ensure_future(w) for w in waits]
        await asyncio.sleep(0.05)
        release.set_result(None)
        await busy
        await asyncio.gather(*tasks)
        assert store._writer.commits - before == 2  # the busy job's group, then one for all ten appends
        records, total = await store.read_access_log("t")
        assert total == 10 and [r["entityId"] for r in records] == [f"E{i}" for i in range(10)]
        assert access_log.verify(records, await store.access_log_head("t"))["valid"] is True
    finally:
        await store.close()


async def test_disclosures_held_for_the_flush_interval_are_committed_by_a_read_of_the_log_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sqlite_log, "FLUSH_INTERVAL", 3600.0)  # held until something flushes them
    path = str(tmp_path / "h.db")
    store = SqliteStorage(path)
    await store.start()
    await store.append_access_log("t", [_record(0, "alice")], access_log.seal, wait=False)  # queued at once
    await store._write(lambda conn: None)
    await store.append_access_log("t", [_record(1, "alice")], access_log.seal, wait=False)  # held
    await store._write(lambda conn: None)
    assert await _count(store) == 1
    records, total = await store.read_access_log("t", subject="alice")
    assert total == 2 and [r["entityId"] for r in records] == ["E0", "E1"]
    await store.append_access_log("t", [_record(2, "bob")], access_log.seal, wait=False)  # held again
    await store.close()

    store = SqliteStorage(path)
    await store.start()
    try:
        records, total = await store.read_access_log("t")
        assert total == 3 and access_log.verify(records, await store.access_log_head("t"))["valid"] is True
    finally:
        await store.close()


async def test_an_append_that_waits_takes_the_held_disclosures_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlite_log, "FLUSH_INTERVAL", 3600.0)
    store = SqliteStorage(str(tmp_path / "w.db"))
    await store.start()
    try:
        await store.append_access_log("t", [_record(0, "alice")], access_log.seal, wait=False)
        await store._write(lambda conn: None)
        await store.append_access_log("t", [_record(1, "alice")], access_log.seal, wait=False)  # held
        await store._write(lambda conn: None)
        assert await _count(store) == 1
        await asyncio.wait_for(store.append_access_log("t", [_record(2, "bob")], access_log.seal), timeout=10)
        rows = await store._read(lambda c: [r[0] for r in c.execute("SELECT seq FROM access_log ORDER BY seq")])
        assert rows == [1, 2, 3]
    finally:
        await store.close()
