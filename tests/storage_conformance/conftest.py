"""The storage conformance suite runs the same behaviour tests against every backend."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from broker.storage.port import Storage
from broker.storage.sqlite import SqliteStorage


@pytest.fixture(params=["sqlite"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store = SqliteStorage(str(tmp_path / "conformance.db"))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def storage_factory(tmp_path_factory: pytest.TempPathFactory):
    """A function that loads entities into a fresh SQLite store and runs one filter (sync tests)."""
    from broker.storage.port import EntityFilter, Page, Write

    async def run(entities, flt: EntityFilter) -> list[str]:
        store = SqliteStorage(str(tmp_path_factory.mktemp("diff") / "d.db"))
        await store.start()
        try:
            await store.write_batch("t", [Write("insert", e) for e in entities])
            found, _ = await store.query_entities("t", flt, Page(limit=1000))
            return sorted(e.id for e in found)
        finally:
            await store.close()

    return run
