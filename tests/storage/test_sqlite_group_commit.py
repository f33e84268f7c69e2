"""SQLite-specific: concurrent writes share commits (and so fsyncs); writers of several processes
queue on the store's write lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from pathlib import Path

from broker.ngsi.model import Attribute, Entity
from broker.storage.sqlite import SqliteStorage, writer
from broker.storage.sqlite.connection import WriteLock


async def test_concurrent_writes_are_group_committed(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "g.db"))
    await store.start()
    try:
        before = store._writer.commits
        await asyncio.gather(*(store.insert_entity("t", Entity(id=f"E{i}", type="T")) for i in range(300)))
        commits = store._writer.commits - before
        assert 1 <= commits < 300
    finally:
        await store.close()


async def test_a_failing_job_rolls_back_alone(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "g.db"))
    await store.start()
    try:

        def boom(conn):
            conn.execute("INSERT INTO meta(key, value) VALUES('x', 'y')")
            raise RuntimeError("job failed")

        results = await asyncio.gather(
            store.insert_entity("t", Entity(id="A", type="T")),
            store._writer.submit(boom),
            store.insert_entity("t", Entity(id="B", type="T")),
            return_exceptions=True,
        )
        assert results[0] is True and results[2] is True
        assert isinstance(results[1], RuntimeError)
        rows = await store._read(lambda c: c.execute("SELECT count(*) FROM meta WHERE key = 'x'").fetchone()[0])
        assert rows == 0
    finally:
        await store.close()


async def test_a_job_whose_error_cannot_be_set_does_not_strand_the_rest_of_its_group(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "g.db"))
    await store.start()
    try:

        def stop(conn):
            raise StopIteration  # a future refuses it as an exception

        results = await asyncio.wait_for(
            asyncio.gather(
                store.insert_entity("t", Entity(id="A", type="T")),
                store._writer.submit(stop),
                store.insert_entity("t", Entity(id="B", type="T")),
                return_exceptions=True,
            ),
            timeout=10,
        )
        assert results[0] is True and results[2] is True
        assert isinstance(results[1], RuntimeError)
    finally:
        await store.close()


def _try_lock(path: str, lock_file: str = "-writelock") -> bool:
    """Whether another holder could take the store's write lock (or its turnstile) right now."""
    fd = os.open(path + lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the descriptor also lets go of a lock taken through it
    return True


def test_write_lock_excludes_every_other_holder_until_released(tmp_path: Path):
    path = str(tmp_path / "l.db")
    lock = WriteLock(path)
    try:
        with lock:
            assert not _try_lock(path)
        assert _try_lock(path)
    finally:
        lock.close()


def test_write_lock_of_a_memory_store_is_a_no_op(tmp_path: Path):
    lock = WriteLock(":memory:")
    with lock:
        pass
    lock.close()
    assert list(tmp_path.iterdir()) == []


async def test_group_commit_holds_the_store_write_lock_for_its_whole_transaction(tmp_path: Path):
    path = str(tmp_path / "g.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        during = await store._writer.submit(lambda conn: _try_lock(path))
        assert during is False  # another process's writer would queue on it, not on SQLite's busy handler
        assert _try_lock(path)  # and it is let go once the group is committed
    finally:
        await store.close()


async def test_writer_refreshes_planner_statistics_as_the_store_grows(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(writer, "ANALYZE_AFTER", 100)
    store = SqliteStorage(str(tmp_path / "a.db"))
    await store.start()
    try:
        stats = "SELECT count(*) FROM sqlite_stat1 WHERE idx = 'attributes_by_num'"
        assert await store._read(lambda c: c.execute(stats).fetchone()[0]) == 0  # empty at start
        await asyncio.gather(
            *(
                store.insert_entity(
                    "t",
                    Entity(
                        id=f"E{i}",
                        type="T",
                        attrs={
                            "humidity": Attribute(type="Number", value=i % 20),
                            "name": Attribute(type="Text", value=f"n{i}"),
                        },
                    ),
                )
                for i in range(200)
            )
        )
        assert await store._read(lambda c: c.execute(stats).fetchone()[0]) == 1
        plan = await store._read(
            lambda c: c.execute(
                "EXPLAIN QUERY PLAN SELECT entity_pk FROM attributes a WHERE a.name = ? AND a.kind = 'n' AND a.num = ?",
                ("humidity", 7.0),
            ).fetchall()
        )
        assert "attributes_by_num" in " ".join(str(row) for row in plan)  # the selective index, not by kind
    finally:
        await store.close()


def _waiting_for_the_lock(path: str) -> bool:
    """A writer is queued for the write lock: it holds the turnstile while it waits."""
    return not _try_lock(path, "-writeturn")


def test_a_writer_waiting_for_the_lock_gets_it_before_the_holder_takes_it_back(tmp_path: Path):
    path = str(tmp_path / "t.db")
    holder, other = WriteLock(path), WriteLock(path)  # two processes' writers
    order: list[str] = []

    def other_writer() -> None:
        with other:
            order.append("other")

    try:
        holder.__enter__()
        waiter = threading.Thread(target=other_writer)
        waiter.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_the_lock(path):
            assert time.monotonic() < deadline, "the other writer never queued"
            time.sleep(0.001)
        holder.__exit__(None, None, None)
        with holder:  # straight back for the next group, as a busy writer is
            order.append("holder")
        waiter.join(10)
        assert order == ["other", "holder"]
    finally:
        holder.close()
        other.close()


async def test_commits_leave_the_log_to_the_checkpointer_thread(tmp_path: Path):
    path = str(tmp_path / "c.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        # the writer's commits never copy the log back themselves (a stall for every write queued)
        assert await store._writer.submit(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
        size_at_start = os.path.getsize(path)
        for batch in range(5):
            await asyncio.gather(*(store.insert_entity("t", Entity(id=f"E{batch}-{i}", type="T")) for i in range(200)))
        checkpointer = store._writer._checkpointer
        assert checkpointer is not None
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0:
            assert time.monotonic() < deadline, "no checkpoint ran"
            await asyncio.sleep(0.01)
        # what the thread copied is in the database file itself, which the log alone left unchanged
        assert os.path.getsize(path) > size_at_start
    finally:
        await store.close()
    assert checkpointer._thread is None  # stopped with the store


async def test_the_log_starts_over_while_writes_go_on(tmp_path: Path):
    """A checkpoint beside the writers never copies all of a log they keep appending to, and SQLite
    starts the log over only after one did: the checkpointer's locked second pass is what keeps the
    log's file from growing with every commit."""
    path = str(tmp_path / "r.db")
    store = SqliteStorage(path)
    await store.start()
    try:
        checkpointer = store._writer._checkpointer
        assert checkpointer is not None
        await store.insert_entity("t", Entity(id="first", type="T"))
        started_over = _log_restarts(path)
        n = 0
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints < 5:  # the writes never pause between checkpoints
            assert time.monotonic() < deadline, "too few checkpoints"
            await asyncio.gather(*(store.insert_entity("t", Entity(id=f"E{n}-{i}", type="T")) for i in range(20)))
            n += 1
        assert _log_restarts(path) - started_over >= 3
    finally:
        await store.close()


def _log_restarts(path: str) -> int:
    """The write-ahead log header's checkpoint sequence number: SQLite adds one each time it starts
    the log over from the beginning of its file."""
    with open(path + "-wal", "rb") as log:
        return int.from_bytes(log.read(16)[12:16], "big")
