"""SQLite-specific: concurrent writes share commits (and so fsyncs); writers of several processes
queue on the store's write lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
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


def _try_lock(path: str) -> bool:
    """Whether another holder could take the store's write lock right now (without waiting)."""
    fd = os.open(path + "-writelock", os.O_RDWR)
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
