"""RegistrationService over a real embedded store: who created a registration, and who hears of changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.core.registrations import RegistrationService
from broker.ngsi.context import RequestContext
from broker.ngsi.errors import NgsiError
from broker.storage.sqlite import SqliteStorage

BODY: dict[str, Any] = {
    "dataProvided": {"entities": [{"id": "E1", "type": "T"}], "attrs": ["a"]},
    "provider": {"http": {"url": "http://cp.example/v2"}},
}


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = SqliteStorage(str(tmp_path / "regs.db"))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def test_create_records_the_creators_principal_and_roles(storage: SqliteStorage) -> None:
    service = RegistrationService(storage)
    ctx = RequestContext(tenant="city", principal="alice", roles=("doctor", "admin"))
    reg = await service.create(ctx, BODY, "/")
    stored = await storage.get_registration("city", reg.id)
    assert stored is not None and (stored.owner, stored.owner_roles) == ("alice", ("doctor", "admin"))


async def test_create_without_authentication_has_no_owner(storage: SqliteStorage) -> None:
    reg = await RegistrationService(storage).create(RequestContext(), BODY, "/")
    stored = await storage.get_registration("", reg.id)
    assert stored is not None and (stored.owner, stored.owner_roles) == (None, ())


async def test_changed_hears_of_each_create_and_delete_with_the_tenant(storage: SqliteStorage) -> None:
    heard: list[str] = []
    service = RegistrationService(storage, changed=heard.append)
    reg = await service.create(RequestContext(tenant="city"), BODY, "/")
    assert heard == ["city"]
    await service.delete(RequestContext(tenant="city"), reg.id)
    assert heard == ["city", "city"]


async def test_changed_hears_nothing_of_refused_requests(storage: SqliteStorage) -> None:
    heard: list[str] = []
    service = RegistrationService(storage, changed=heard.append)
    with pytest.raises(NgsiError):
        await service.create(RequestContext(tenant="city"), {"provider": BODY["provider"]}, "/")
    with pytest.raises(NgsiError):
        await service.delete(RequestContext(tenant="city"), "5f1a2b3c4d5e6f7a8b9c0d01")
    assert heard == []


async def test_changed_hears_of_each_stored_patch_and_of_no_refused_one(storage: SqliteStorage) -> None:
    heard: list[str] = []
    service = RegistrationService(storage, changed=heard.append)
    reg = await service.create(RequestContext(tenant="city"), BODY, "/")
    heard.clear()
    await service.update(RequestContext(tenant="city"), reg.id, {"status": "inactive"})
    assert heard == ["city"]
    for body, reg_id in (({"status": "gone"}, reg.id), ({"status": "active"}, "5f1a2b3c4d5e6f7a8b9c0d01")):
        with pytest.raises(NgsiError):
            await service.update(RequestContext(tenant="city"), reg_id, body)
    assert heard == ["city"]
