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
