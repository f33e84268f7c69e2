"""MongoDB for the tests: FerretDB started once per session (per xdist worker), or `MONGO_URI`.

Every test gets databases of its own (a unique name prefix), dropped afterwards. Tests marked
`real_mongo` need what FerretDB lacks (geo-queries, transactions): their MongoDB runs are
skipped without `MONGO_URI`. The fixtures are registered by tests/conftest.py, so both
tests/storage_conformance (every backend) and tests/storage (one backend) use them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from tests.ferretdb import start_ferretdb


def skip_real_mongo_runs(items: list[pytest.Item]) -> None:
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
