"""The storage conformance suite runs the same behaviour tests against every backend.

`mongo` is FerretDB started here (built by `make test`), or the real MongoDB at `MONGO_URI`.
Every test gets databases of its own (a unique name prefix), dropped afterwards. Tests marked
`real_mongo` need what FerretDB lacks (geo-queries, transactions) and run only with `MONGO_URI`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

from broker.storage.mongo import MongoStorage
from broker.storage.port import Storage
from broker.storage.sqlite import SqliteStorage
from tests.ferretdb import start_ferretdb

BACKENDS = ["sqlite", "mongo"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_mongo: needs a real MongoDB (MONGO_URI); FerretDB lacks the feature")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`real_mongo` tests skip their MongoDB runs without `MONGO_URI`; their SQLite runs still run."""
    if os.environ.get("MONGO_URI"):
        return
    for item in items:
        if not item.get_closest_marker("real_mongo"):
            continue
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("storage") if callspec is not None else None
        if backend == "mongo" or "mongo_db" in getattr(item, "fixturenames", ()):
            item.add_marker(
                pytest.mark.skip(reason="needs a real MongoDB (set MONGO_URI): FerretDB has no geo-queries")
            )


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB's `MONGO_URI`, or a FerretDB for the whole session (fails loudly if not built)."""
    given = os.environ.get("MONGO_URI")
    if given:
        yield given
        return
    try:
        server = start_ferretdb(tmp_path_factory.mktemp("ferretdb"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.uri
    finally:
        server.stop()


def fresh_prefix() -> str:
    return f"abt{uuid.uuid4().hex[:12]}"


def drop_databases(uri: str, prefix: str) -> None:
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        for name in client.list_database_names():
            if name == prefix or name.startswith(prefix + "-"):
                client.drop_database(name)


@pytest.fixture
def mongo_db(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(uri, database prefix) of a MongoDB no other test uses; dropped at the end."""
    uri = request.getfixturevalue("mongo_uri")
    prefix = fresh_prefix()
    yield uri, prefix
    drop_databases(uri, prefix)


@pytest.fixture
def raw(mongo_db: tuple[str, str]) -> Iterator[pymongo.MongoClient[dict[str, Any]]]:
    """A plain PyMongo client on the test's MongoDB, to read and write documents as Orion would."""
    uri, _ = mongo_db
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    yield client
    client.close()


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
