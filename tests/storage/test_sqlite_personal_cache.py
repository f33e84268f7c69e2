"""SQLite-specific: the personal types and consent version that every request reads are answered
from memory, and a change made through any process on the same file is seen by the next read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.consent import Consent
from broker.storage.sqlite import SqliteStorage
from broker.storage.sqlite.generation import SharedGeneration


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[SqliteStorage, SqliteStorage]]:
    """Two storages on one file, each with its own engine, writer and mapping: two processes."""
    a, b = SqliteStorage(str(tmp_path / "p.db")), SqliteStorage(str(tmp_path / "p.db"))
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


def _count_lookups(store: SqliteStorage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = store.engine.lookup

    async def counted(fn, visibility=None):
        calls.append(1)
        return await real(fn, visibility)

    monkeypatch.setattr(store.engine, "lookup", counted)
    return calls


def _consent(consent_id: str, withdrawn: float | None = None) -> Consent:
    return Consent(
        id=consent_id,
        subject="resident-1",
        recipient="svc",
        entity_types=("Person",),
        attrs=None,
        purpose="care",
        operations=("read",),
        created_at=1.0,
        withdrawn_at=withdrawn,
    )


async def test_repeated_reads_of_the_personal_state_query_the_file_once(
    two_processes: tuple[SqliteStorage, SqliteStorage], monkeypatch: pytest.MonkeyPatch
):
    a, _ = two_processes
    await a.put_personal_type("t", "Person", "owner")
    lookups = _count_lookups(a, monkeypatch)
    first = await a.personal_state("t")
    assert first[0] == {"Person": "owner"}
    for _ in range(5):
        assert await a.personal_state("t") == first
    assert len(lookups) == 1


async def test_a_type_declared_through_another_process_is_seen_by_the_next_read(
    two_processes: tuple[SqliteStorage, SqliteStorage],
):
    a, b = two_processes
    assert await a.personal_state("t") == ({}, 0)  # cached: no personal type
    await b.put_personal_type("t", "Person", "owner")
    types, version = await a.personal_state("t")
    assert types == {"Person": "owner"} and version == 1
    await b.delete_personal_type("t", "Person")
    assert await a.personal_state("t") == ({}, 2)


async def test_a_consent_withdrawn_through_another_process_moves_the_version_at_once(
    two_processes: tuple[SqliteStorage, SqliteStorage],
):
    a, b = two_processes
    await a.put_personal_type("t", "Person", "owner")
    await a.save_consent("t", _consent("c1"))
    _, before = await a.personal_state("t")
    await b.save_consent("t", _consent("c1", withdrawn=2.0))
    _, after = await a.personal_state("t")
    assert after == before + 1


async def test_a_change_left_unsettled_by_a_dead_writer_makes_every_read_go_to_the_file(
    two_processes: tuple[SqliteStorage, SqliteStorage], monkeypatch: pytest.MonkeyPatch
):
    a, b = two_processes
    await a.put_personal_type("t", "Person", "owner")
    assert b.engine.generation is not None
    b.engine.generation.begin_change()  # and the process dies before its transaction ends
    lookups = _count_lookups(a, monkeypatch)
    for _ in range(3):
        await a.personal_state("t")
    assert len(lookups) == 3
    await b.put_personal_type("t", "Car", "driver")  # the next change settles the counter again
    assert (await a.personal_state("t"))[0] == {"Car": "driver", "Person": "owner"}
    await a.personal_state("t")
    assert len(lookups) == 4


def test_the_generation_is_odd_during_a_change_and_moves_on_each(tmp_path: Path):
    one, other = SharedGeneration(str(tmp_path / "g.db")), SharedGeneration(str(tmp_path / "g.db"))
    try:
        assert one.read() == other.read() == 0
        one.begin_change()
        one.begin_change()  # a second job of the same group: still one change
        assert other.read() == 1
        one.settle()
        one.settle()
        assert other.read() == 2
        other.begin_change()
        assert one.read() == 3
    finally:
        one.close()
        other.close()
