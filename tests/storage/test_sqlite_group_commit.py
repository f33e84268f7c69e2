"""SQLite-specific: concurrent writes share commits (and so fsyncs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker.ngsi.model import Entity
from broker.storage.sqlite import SqliteStorage


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
