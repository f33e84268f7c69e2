"""SQLite-specific: the plans of q lists. A page must cost about the page, not every entity that has
the attribute: conditions are checked per examined row by primary key, and the driver reads a
covering index in creation order, so no sort and no list of every match is built before the first row."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.query.parser import parse_q
from broker.ngsi.selection import EntityFilter, Page
from broker.storage.port import Write
from broker.storage.sqlite import SqliteStorage, writer
from broker.storage.sqlite.filters import filter_sql, order_sql


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = SqliteStorage(str(tmp_path / "p.db"), readers=1)
    await s.start()
    for i in range(200):
        attrs = {"humidity": Attribute("Number", i % 10), "name": Attribute("Text", f"n{i % 7}")}
        assert await s.insert_entity("t", Entity(id=f"S{i}", type="Sensor", attrs=attrs))
    yield s
    await s.close()


async def _plan(store: SqliteStorage, q: str) -> list[str]:
    flt = EntityFilter(types=("Sensor",), q=parse_q(q))
    where, params = filter_sql("t", flt)
    order_by, _ = order_sql((), flt)
    sql = f"EXPLAIN QUERY PLAN SELECT e.pk FROM entities e WHERE {where} ORDER BY {order_by} LIMIT 20"
    return await store._read(lambda c: [row[3] for row in c.execute(sql, params)])


@pytest.mark.parametrize(
    ("q", "index"),
    [("humidity==3", "attributes_by_num"), ("humidity>7", "attributes_by_num"), ("name==n3", "attributes_by_str")],
)
async def test_a_q_page_starts_from_a_covering_index_and_checks_each_row_by_primary_key(
    store: SqliteStorage, q: str, index: str
):
    plan = await _plan(store, q)
    assert any(f"COVERING INDEX {index}" in step for step in plan), plan
    assert any("PRIMARY KEY (entity_pk=? AND name=?)" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert sum("LIST SUBQUERY" in step for step in plan) == 1, plan  # the driver's only


async def test_a_negated_q_page_walks_the_type_in_creation_order_with_no_list(store: SqliteStorage):
    plan = await _plan(store, "humidity!=3")
    assert not any("LIST SUBQUERY" in step or "TEMP B-TREE" in step for step in plan), plan


@pytest.mark.parametrize("q", ["humidity==3", "humidity>7", "humidity!=3", "name==n3", "humidity==3;name==n3"])
async def test_q_pages_list_exactly_the_matches_in_creation_order(store: SqliteStorage, q: str):
    expected = [
        f"S{i}"
        for i in range(200)
        if {
            "humidity==3": i % 10 == 3,
            "humidity>7": i % 10 > 7,
            "humidity!=3": i % 10 != 3,
            "name==n3": i % 7 == 3,
            "humidity==3;name==n3": i % 10 == 3 and i % 7 == 3,
        }[q]
    ]
    flt = EntityFilter(types=("Sensor",), q=parse_q(q))
    found, total = await store.query_entities("t", flt, Page(limit=7, offset=3), count=True)
    assert [e.id for e in found] == expected[3:10]
    assert total == len(expected)


@pytest.mark.parametrize("scoped", [False, True])
async def test_entities_named_by_many_ids_are_found_by_id_not_by_walking_their_type(
    tmp_path: Path, scoped: bool, monkeypatch: pytest.MonkeyPatch
):
    """An `op/update` of 100 entities reads them by id: with the planner's statistics, a walk of the
    type (or service path) in creation order spared a sort of 100 rows and read every entity."""
    store = SqliteStorage(str(tmp_path / "ids.db"), readers=1)
    await store.start()
    try:
        writes = [Write("insert", Entity(id=f"S{i:05d}", type="Sensor")) for i in range(5000)]
        assert await store.write_batch("t", writes)
        # statistics from a small sample, as the store takes them at any size (a million entities
        # sampled 1,000 rows an index): they underestimate the type's rows and favour walking it
        monkeypatch.setattr(writer, "ANALYZE_SAMPLE", 20)
        conn = sqlite3.connect(str(tmp_path / "ids.db"), isolation_level=None)
        try:
            writer.analyze(conn)
        finally:
            conn.close()
        ids = tuple(f"S{i:05d}" for i in range(1000, 1200, 2))
        scopes = (ServicePathScope("/", recursive=False),) if scoped else ()
        flt = EntityFilter(ids=ids, types=("Sensor",), scopes=scopes)
        where, params = filter_sql("t", flt)
        order_by, _ = order_sql((), flt)
        sql = f"SELECT e.id FROM entities e WHERE {where} ORDER BY {order_by} LIMIT 1000"
        plan = await store._read(lambda c: [row[3] for row in c.execute("EXPLAIN QUERY PLAN " + sql, params)])
        assert any("sqlite_autoindex_entities_1 (tenant=? AND id=?" in step for step in plan), plan
        found = await store._read(lambda c: [row[0] for row in c.execute(sql, params)])
        assert found == list(ids)
    finally:
        await store.close()
