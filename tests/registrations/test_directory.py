"""The registrations forwarding reads: kept briefly, dropped on local change, fresh within max_age."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.ngsi.registration import ProvidedEntity, Registration
from broker.registrations.directory import MAX_AGE, RegistrationDirectory
from broker.storage.sqlite import SqliteStorage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = SqliteStorage(str(tmp_path / "dir.db"))
    await store.start()
    yield store
    await store.close()


def registration(reg_id: str) -> Registration:
    return Registration(reg_id, "city", "/", (ProvidedEntity(id="E", type="T"),), (), "http://cp/v2")


async def test_another_process_change_is_seen_once_max_age_has_passed(storage: SqliteStorage) -> None:
    now = [0.0]
    directory = RegistrationDirectory(storage, clock=lambda: now[0])
    assert await directory.registrations("city") == []
    await storage.save_registration(registration("aaaaaaaaaaaaaaaaaaaaaaa1"))  # as another process would
    assert await directory.registrations("city") == []
    now[0] += MAX_AGE + 0.01
    assert [r.id for r in await directory.registrations("city")] == ["aaaaaaaaaaaaaaaaaaaaaaa1"]
    assert MAX_AGE <= 1.0  # the bound for other processes


async def test_a_change_made_here_is_seen_at_once(storage: SqliteStorage) -> None:
    directory = RegistrationDirectory(storage, clock=lambda: 0.0)
    assert await directory.registrations("city") == []
    await storage.save_registration(registration("aaaaaaaaaaaaaaaaaaaaaaa2"))
    directory.forget("city")
    assert len(await directory.registrations("city")) == 1


async def test_tenants_are_kept_apart(storage: SqliteStorage) -> None:
    directory = RegistrationDirectory(storage)
    await storage.save_registration(registration("aaaaaaaaaaaaaaaaaaaaaaa3"))
    assert await directory.registrations("other") == []
    assert len(await directory.registrations("city")) == 1
