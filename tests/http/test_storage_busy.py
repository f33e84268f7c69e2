"""A store that refuses a request because too many already wait for it: 503, a JSON error and
`Retry-After`, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.port import StorageBusy
from broker.storage.sqlite import SqliteStorage


async def test_a_busy_store_answers_503_with_retry_after_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = SqliteStorage(str(tmp_path / "broker.db"))
    async with TestClient(TestServer(build_app(storage, HttpSettings()))) as client:
        r = await client.post("/v2/entities", json={"id": "E", "type": "T", "n": {"value": 1}})
        assert r.status == 201

        async def busy(*args: object, **kwargs: object) -> bool:
            raise StorageBusy("320 database operations already in flight in this process")

        monkeypatch.setattr(storage, "replace_entity", busy)
        r = await client.patch("/v2/entities/E/attrs", json={"n": {"value": 2}})
        assert r.status == 503
        assert r.headers["Retry-After"] == "1"
        assert r.headers["Content-Type"] == "application/json"
        assert "Fiware-Correlator" in r.headers
        assert await r.json() == {
            "error": "ServiceUnavailable",
            "description": "Database busy, try again later &#40;320 database operations already in flight in"
            " this process&#41;",
        }
        monkeypatch.undo()
        r = await client.get("/v2/entities/E", params={"options": "keyValues"})
        assert r.status == 200 and await r.json() == {"id": "E", "type": "T", "n": 1}
