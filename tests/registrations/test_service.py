"""RegistrationService over a real embedded store: who created a registration, and who hears of changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.core.registrations import REGISTRATION_NOT_FOUND, RegistrationService
from broker.ngsi.context import RequestContext
from broker.ngsi.errors import NgsiError
from broker.ngsi.selection import Page
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


def _as(principal: str | None) -> RequestContext:
    return RequestContext(tenant="city", principal=principal, roles=("service",) if principal else ())


async def test_owned_registrations_are_listed_only_to_their_creator(storage: SqliteStorage) -> None:
    service = RegistrationService(storage, owned=True)
    mine = await service.create(_as("alice"), BODY, "/")
    await service.create(_as("bob"), BODY, "/")
    anonymous = await service.create(_as(None), BODY, "/")
    regs, total = await service.list(_as("alice"), Page(), None)
    assert total == 1 and [r.id for r in regs] == [mine.id]
    regs, total = await service.list(_as(None), Page(), None)
    assert total == 1 and [r.id for r in regs] == [anonymous.id]


async def test_someone_elses_registration_is_not_found_and_stays_as_it_was(storage: SqliteStorage) -> None:
    heard: list[str] = []
    service = RegistrationService(storage, changed=heard.append, owned=True)
    reg = await service.create(_as("alice"), BODY, "/")
    heard.clear()
    for attempt in (
        service.get(_as("bob"), reg.id),
        service.update(_as("bob"), reg.id, {"provider": {"http": {"url": "http://bob.example"}}}),
        service.delete(_as("bob"), reg.id),
        service.get(_as(None), reg.id),
    ):
        with pytest.raises(NgsiError) as err:
            await attempt
        assert err.value.status == 404 and err.value.description == REGISTRATION_NOT_FOUND
    assert heard == []
    assert await storage.get_registration("city", reg.id) == reg
    await service.update(_as("alice"), reg.id, {"status": "inactive"})
    await service.delete(_as("alice"), reg.id)
    assert heard == ["city", "city"] and await storage.get_registration("city", reg.id) is None


async def test_without_ownership_everyone_sees_every_registration(storage: SqliteStorage) -> None:
    service = RegistrationService(storage)
    reg = await service.create(_as("alice"), BODY, "/")
    assert (await service.get(_as("bob"), reg.id)).owner == "alice"
    assert (await service.list(_as("bob"), Page(), None))[1] == 1
