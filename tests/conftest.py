"""Shared fixtures: a broker on a fresh embedded store, reached over real HTTP through aiohttp's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from tests.mongo_fixtures import mongo_db, mongo_uri, raw, skip_real_mongo_runs  # noqa: F401 (fixtures)
from tests.providers import Provider
from tests.receivers import Receiver


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_real_mongo_runs(items)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(SqliteStorage(str(tmp_path / "broker.db")), HttpSettings())
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def cors_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(SqliteStorage(str(tmp_path / "broker.db")), HttpSettings(cors_origin="__ALL", cors_max_age=600))
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A notification receiver on a free loopback port (tests/receivers.py)."""
    r = Receiver()
    await r.start()
    yield r
    await r.close()


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    """A scripted context provider on a free loopback port (tests/providers.py)."""
    p = Provider()
    await p.start()
    yield p
    await p.close()
