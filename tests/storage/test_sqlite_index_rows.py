"""SQLite-specific: a write rewrites only the index rows that changed, and filters see every change."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.geo import GeoQuery
from broker.ngsi.model import Attribute, Entity, Location
from broker.ngsi.query.parser import parse_q
from broker.ngsi.selection import EntityFilter, Page
from broker.storage.sqlite import SqliteStorage

POINT = {"type": "Point", "coordinates": [1.0, 2.0]}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    s = SqliteStorage(str(tmp_path / "i.db"), readers=1)
    await s.start()
    yield s
    await s.close()


def _sensor() -> Entity:
    attrs = {
        "n": Attribute("Number", 1),
        "s": Attribute("Text", "a"),
        "b": Attribute("Boolean", True),
        "where": Attribute("geo:json", POINT),
    }
    e = Entity(id="E", type="T", attrs=attrs, cre_date=1.0, mod_date=1.0)
    e.location = Location("where", POINT)
    return e


async def _stored(store: SqliteStorage) -> Entity:
    found, _ = await store.query_entities("t", EntityFilter(ids=("E",)), Page(limit=1))
    return found[0]


async def _rows_written(store: SqliteStorage, entity: Entity) -> int:
    before = await store._write(lambda conn: conn.total_changes)
    assert await store.replace_entity("t", entity)
    return await store._write(lambda conn: conn.total_changes) - before


async def _ids(store: SqliteStorage, **kwargs) -> list[str]:
    found, _ = await store.query_entities("t", EntityFilter(**kwargs), Page())
    return [e.id for e in found]


async def test_an_update_of_one_value_writes_the_entity_row_and_one_attribute_row(store: SqliteStorage):
    assert await store.insert_entity("t", _sensor())
    updated = copy.copy(await _stored(store))
    updated.attrs = dict(updated.attrs, n=Attribute("Number", 2))
    updated.location = Location("where", POINT)
    assert await _rows_written(store, updated) == 2
    assert await _ids(store, q=parse_q("n==2")) == ["E"]
    assert await _ids(store, q=parse_q("n==1")) == []
    box = GeoQuery("coveredBy", {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [0, 3], [0, 0]]]})
    assert await _ids(store, geo=box) == ["E"]


async def test_kind_changes_removals_and_moves_reach_the_filters(store: SqliteStorage):
    assert await store.insert_entity("t", _sensor())
    updated = copy.copy(await _stored(store))
    moved = {"type": "Point", "coordinates": [10.0, 20.0]}
    updated.attrs = {"n": Attribute("Text", "one"), "where": Attribute("geo:json", moved)}  # s and b removed
    updated.location = Location("where", moved)
    assert await store.replace_entity("t", updated)
    assert await _ids(store, q=parse_q("n==one")) == ["E"]
    assert await _ids(store, q=parse_q("n==1")) == []
    assert await _ids(store, q=parse_q("s")) == []
    assert await _ids(store, q=parse_q("!b")) == ["E"]
    old_box = GeoQuery("coveredBy", {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [0, 3], [0, 0]]]})
    new_box = GeoQuery(
        "coveredBy", {"type": "Polygon", "coordinates": [[[9, 19], [11, 19], [11, 21], [9, 21], [9, 19]]]}
    )
    assert await _ids(store, geo=old_box) == []
    assert await _ids(store, geo=new_box) == ["E"]

    unlocated = copy.copy(await _stored(store))
    unlocated.attrs = {"n": Attribute("Text", "one")}
    unlocated.location = None
    assert await store.replace_entity("t", unlocated)
    assert await _ids(store, geo=new_box) == []
    rows = await store._read(lambda c: c.execute("SELECT count(*) FROM locations").fetchone()[0])
    assert rows == 0
