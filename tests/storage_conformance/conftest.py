"""The storage conformance suite runs the same behaviour tests against every backend.

`mongo` is the MongoDB of tests/mongo_fixtures.py (FerretDB, built by `make test`, or `MONGO_URI`).
Tests of one backend only live in tests/storage/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.storage.mongo import MongoStorage
from broker.storage.port import Storage
from broker.storage.sqlite import SqliteStorage

BACKENDS = ["sqlite", "mongo"]


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "mongo":
        uri, prefix = request.getfixturevalue("mongo_db")
        store = MongoStorage(uri, db=prefix)
    else:
        store = SqliteStorage(str(tmp_path / "conformance.db"))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=BACKENDS)
def storage_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A function that loads entities into a fresh store and runs one filter (sync tests)."""
    from broker.ngsi.selection import EntityFilter, Page
    from broker.storage.port import Write

    backend = request.param
    uri, prefix = request.getfixturevalue("mongo_db") if backend == "mongo" else ("", "")
    runs = iter(range(1_000_000))

    async def run(entities, flt: EntityFilter) -> list[str]:
        store: Storage
        if backend == "mongo":
            store = MongoStorage(uri, db=prefix)
            tenant = f"d{next(runs)}"  # a fresh tenant database per example
        else:
            store = SqliteStorage(str(tmp_path_factory.mktemp("diff") / "d.db"))
            tenant = "t"
        await store.start()
        try:
            await store.write_batch(tenant, [Write("insert", e) for e in entities])
            found, _ = await store.query_entities(tenant, flt, Page(limit=1000))
            return sorted(e.id for e in found)
        finally:
            if backend == "mongo":
                assert isinstance(store, MongoStorage)
                await store._client.drop_database(store.database(tenant).name)  # type: ignore[union-attr]
            await store.close()

    return run
