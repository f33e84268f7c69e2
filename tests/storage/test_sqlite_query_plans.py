"""SQLite-specific: the plans of q lists. A page must cost about the page, not every entity that has
the attribute: conditions are checked per examined row by primary key, and the driver reads a
covering index in creation order, so no sort and no list of every match is built before the first row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.query.parser import parse_q
from broker.ngsi.selection import EntityFilter, Page
from broker.storage.sqlite import SqliteStorage
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
