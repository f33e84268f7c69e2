"""SQLite-specific: reads by key run on the event loop's own connection, bounded; anything slower,
or anything that would wait for a lock, runs on the reader pool and never stalls the loop."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.query.parser import parse_q
from broker.ngsi.selection import EntityFilter, Grant, OrderKey, Page, Visibility
from broker.storage.sqlite import SqliteStorage, engine
from broker.storage.sqlite.entities import is_lookup


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = SqliteStorage(str(tmp_path / "l.db"), readers=1)
    await s.start()
    yield s
    await s.close()


def _count_pool_reads(store: SqliteStorage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that gets one entry per read sent to the reader pool."""
    pool_reads: list[str] = []
    real_read = store.engine.read

    async def counted_read(fn, visibility=None):
        pool_reads.append("read")
        return await real_read(fn, visibility)

    monkeypatch.setattr(store.engine, "read", counted_read)
    return pool_reads


def _count_to(n: int):
    """A read whose cost grows with `n`, and the thread it ran on."""

    def run(conn: sqlite3.Connection) -> tuple[int, str]:
        sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) FROM c"
        return conn.execute(sql, (n,)).fetchone()[0], threading.current_thread().name

    return run


async def test_a_small_lookup_runs_on_the_event_loop_thread(store: SqliteStorage):
    assert await store.engine.lookup(_count_to(10)) == (10, threading.current_thread().name)
    assert store.engine.inline_fallbacks == 0


async def test_a_lookup_past_its_budget_is_finished_by_the_pool(store: SqliteStorage):
    total, thread = await store.engine.lookup(_count_to(1_000_000))
    assert total == 1_000_000
    assert thread.startswith("sqlite-reader")
    assert store.engine.inline_fallbacks == 1
    # the connection's budget is per lookup: the next small one runs inline again
    assert await store.engine.lookup(_count_to(10)) == (10, threading.current_thread().name)


async def test_get_by_id_reads_inline_and_a_counted_list_over_its_budget_reads_on_the_pool(
    store: SqliteStorage, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(engine, "ATTEMPT_BUDGET", 0)  # no list fits on the loop
    for i in range(3):
        assert await store.insert_entity("t", Entity(id=f"E{i}", type="T", attrs={"n": Attribute("Number", i)}))
    pool_reads = _count_pool_reads(store, monkeypatch)

    found, _ = await store.query_entities("t", EntityFilter(ids=("E1",), types=("T",)), Page(limit=2))
    assert [e.id for e in found] == ["E1"] and found[0].attrs["n"].value == 1
    assert pool_reads == []

    found, total = await store.query_entities("t", EntityFilter(types=("T",)), Page(), count=True)
    assert [e.id for e in found] == ["E0", "E1", "E2"] and total == 3
    assert pool_reads == ["read"]


def test_only_filters_by_a_few_ids_without_scans_are_lookups():
    q = parse_q("n>1")
    assert is_lookup(EntityFilter(ids=("E",), types=("T",)), (), False)
    assert not is_lookup(EntityFilter(types=("T",)), (), False)
    assert not is_lookup(EntityFilter(ids=("E",), q=q), (), False)
    assert not is_lookup(EntityFilter(ids=("E",), id_pattern="E.*"), (), False)
    assert not is_lookup(EntityFilter(ids=("E",)), (OrderKey("n"),), False)
    assert not is_lookup(EntityFilter(ids=("E",)), (), True)
    assert not is_lookup(EntityFilter(ids=tuple(f"E{i}" for i in range(100))), (), False)


async def test_a_lookup_that_meets_a_lock_is_retried_on_the_pool_without_waiting_on_the_loop(store: SqliteStorage):
    loop_thread = threading.current_thread().name

    def locked_on_the_loop(conn: sqlite3.Connection) -> str:
        if threading.current_thread().name == loop_thread:
            # what SQLite answers at once with busy_timeout 0, where the pool's connection would wait
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
            raise sqlite3.OperationalError("database is locked")
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        return threading.current_thread().name

    assert (await store.engine.lookup(locked_on_the_loop)).startswith("sqlite-reader")
    assert store.engine.inline_fallbacks == 1


async def test_a_personal_lookup_needing_many_new_subjects_reads_on_the_pool(
    store: SqliteStorage, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(engine, "LOOKUP_MAX_NEW_SUBJECTS", 2)
    await store.put_personal_type("t", "Person", "owner")
    assert await store.insert_entity("t", Entity(id="P", type="Person", attrs={"owner": Attribute("Text", "s1")}))
    pool_reads = _count_pool_reads(store, monkeypatch)

    def flt(*subjects: str) -> EntityFilter:
        grant = Grant("Person", "owner", subjects, None)
        return EntityFilter(ids=("P",), types=("Person",), visibility=Visibility(("Person",), (grant,)))

    found, _ = await store.query_entities("t", flt("s1", "s2"), Page(limit=2))
    assert [e.id for e in found] == ["P"] and pool_reads == []  # two subjects: made on the loop's connection
    found, _ = await store.query_entities("t", flt("s0", "s2"), Page(limit=2))
    assert found == [] and pool_reads == []
    found, _ = await store.query_entities("t", flt("s1", "s3", "s4"), Page(limit=2))
    assert [e.id for e in found] == ["P"] and pool_reads == ["read"]


async def test_a_small_list_query_runs_on_the_event_loop_thread(store: SqliteStorage):
    for i in range(5):
        assert await store.insert_entity("t", Entity(id=f"E{i}", type="T", attrs={"n": Attribute("Number", i)}))
    threads: list[str] = []
    real_attempt = store.engine.attempt

    async def watched(fn, visibility, shape):
        def run(conn):
            threads.append(threading.current_thread().name)
            return fn(conn)

        return await real_attempt(run, visibility, shape)

    store.engine.attempt = watched  # type: ignore[method-assign]
    found, _ = await store.query_entities("t", EntityFilter(types=("T",), q=parse_q("n>2")), Page(limit=20))
    assert [e.id for e in found] == ["E3", "E4"]
    assert threads == [threading.current_thread().name]
    assert store.engine.inline_fallbacks == 0


async def test_a_query_past_the_attempt_budget_is_finished_by_the_pool_and_its_shape_goes_there_next(
    store: SqliteStorage,
):
    heavy = _count_to(1_000_000)
    assert (await store.engine.attempt(heavy, None, shape="heavy"))[0] == 1_000_000
    assert store.engine.inline_fallbacks == 1
    # the same shape again: straight to the pool, the loop does not spend its budget a second time
    total, thread = await store.engine.attempt(heavy, None, shape="heavy")
    assert total == 1_000_000 and thread.startswith("sqlite-reader")
    assert store.engine.inline_fallbacks == 1
    # another shape still gets its attempt on the loop
    assert await store.engine.attempt(_count_to(10), None, shape="light") == (10, threading.current_thread().name)


async def test_a_heavy_shape_is_tried_on_the_loop_again_once_its_time_is_over(
    store: SqliteStorage, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(engine, "HEAVY_FOR_S", 0.0)
    await store.engine.attempt(_count_to(1_000_000), None, shape="s")
    assert (await store.engine.attempt(_count_to(10), None, shape="s"))[1] == threading.current_thread().name
    assert store.engine.inline_fallbacks == 1
