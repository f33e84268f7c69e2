"""SQLite-specific: granted subjects live in per-connection temporary tables, named by content."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.selection import EntityFilter, Grant, Page, Visibility
from broker.storage.sqlite import SqliteStorage
from broker.storage.sqlite import visibility as visible

SUBJECTS = [f"s{i}" for i in range(6)]


def _person(i: int, subject: str) -> Entity:
    return Entity(id=f"P{i}", type="Person", attrs={"owner": Attribute("Text", subject), "x": Attribute("Number", i)})


def _only(*subjects: str) -> Visibility:
    return Visibility(("Person",), (Grant("Person", "owner", tuple(subjects), None),))


async def test_many_subject_sets_on_one_connection_each_select_exactly_their_subjects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(visible, "MAX_SETS_PER_CONNECTION", 2)
    store = SqliteStorage(str(tmp_path / "v.db"), readers=1)
    await store.start()
    try:
        await store.put_personal_type("t", "Person", "owner")
        for i, subject in enumerate(SUBJECTS):
            assert await store.insert_entity("t", _person(i, subject))
        views = [_only(*SUBJECTS[k : k + 2]) for k in range(5)] + [_only("s5"), _only()]
        for _ in range(2):  # the second pass meets sets that were dropped and must be made again
            for vis in views:
                found, total = await store.query_entities(
                    "t", EntityFilter(types=("Person",), visibility=vis), Page(), count=True
                )
                expected = [f"P{SUBJECTS.index(s)}" for s in vis.grants[0].subjects]
                assert [e.id for e in found] == expected and total == len(expected)
                summary = await store.get_type("t", "Person", (), visibility=vis)
                assert (summary.count if summary else 0) == len(expected)
        tables = await store._read(
            lambda c: [r[0] for r in c.execute("SELECT name FROM temp.sqlite_master WHERE type = 'table'")]
        )
        assert 1 <= len(tables) <= 2 and all(t.startswith("grant_") for t in tables)
    finally:
        await store.close()


async def test_a_reader_connection_stays_read_only_after_making_a_set(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "r.db"), readers=1)
    await store.start()
    try:
        await store.put_personal_type("t", "Person", "owner")
        assert await store.insert_entity("t", _person(0, "s0"))
        found, _ = await store.query_entities("t", EntityFilter(types=("Person",), visibility=_only("s0")), Page())
        assert [e.id for e in found] == ["P0"]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM entities")

        with pytest.raises(Exception):  # noqa: B017 (whatever SQLite raises: the write must fail)
            await store._read(write)
        assert (await store.query_entities("t", EntityFilter(types=("Person",)), Page()))[0][0].id == "P0"
    finally:
        await store.close()


def test_a_set_is_named_by_its_content():
    a = visible.subject_set(("alice", "bob"))
    assert visible.subject_set(("alice", "bob")).table == a.table
    assert visible.subject_set(("alice", "carol")).table != a.table


async def test_a_store_made_before_the_subject_column_gains_it_filled_at_start(tmp_path: Path):
    path = str(tmp_path / "old.db")
    store = SqliteStorage(path, readers=1)
    await store.start()
    await store.put_personal_type("t", "Person", "owner")
    for i, subject in enumerate(SUBJECTS[:3]):
        assert await store.insert_entity("t", _person(i, subject))
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE entities DROP COLUMN subject")  # the layout of an older broker
    conn.commit()
    conn.close()
    store = SqliteStorage(path, readers=1)
    await store.start()
    try:
        found, total = await store.query_entities(
            "t", EntityFilter(types=("Person",), visibility=_only("s1", "s2")), Page(), count=True
        )
        assert [e.id for e in found] == ["P1", "P2"] and total == 2
    finally:
        await store.close()


async def test_the_subject_column_is_kept_only_for_types_personal_in_the_entitys_tenant(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "t.db"), readers=1)
    await store.start()
    try:
        await store.put_personal_type("t", "Person", "owner")
        assert await store.insert_entity("t", _person(0, "s0"))
        assert await store.insert_entity("u", _person(1, "s1"))
        rows = await store._read(lambda c: c.execute("SELECT tenant, id, subject FROM entities ORDER BY pk").fetchall())
        assert rows == [("t", "P0", "s0"), ("u", "P1", None)]
        assert await store.delete_personal_type("t", "Person")
        rows = await store._read(lambda c: c.execute("SELECT subject FROM entities").fetchall())
        assert rows == [(None,), (None,)]
    finally:
        await store.close()
