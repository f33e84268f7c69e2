"""Transient entities (`dateExpires`) through the storage port, the same on every backend."""

from __future__ import annotations

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.selection import EntityFilter, Page
from broker.storage.port import Storage

NOW = 1_800_000_000.0


def _entity(entity_id: str, expires: float | None, kind: str = "DateTime") -> Entity:
    attrs = {"n": Attribute("Number", 1)}
    if expires is not None:
        attrs["dateExpires"] = Attribute(kind, expires)
    return Entity(entity_id, "Ticket", attrs=attrs, cre_date=1.0, mod_date=1.0)


async def _ids(storage: Storage, tenant: str) -> list[str]:
    found, _ = await storage.query_entities(tenant, EntityFilter(), Page())
    return sorted(e.id for e in found)


async def test_expired_entities_go_in_every_tenant_and_the_others_stay(storage: Storage) -> None:
    for tenant in ("", "city"):
        for entity in (
            _entity("past", NOW - 10),
            _entity("now", NOW),
            _entity("future", NOW + 10),
            _entity("permanent", None),
            _entity("not-a-date", NOW - 10, kind="Number"),
        ):
            assert await storage.insert_entity(tenant, entity)
    assert await storage.delete_expired(NOW) == 4
    for tenant in ("", "city"):
        assert await _ids(storage, tenant) == ["future", "not-a-date", "permanent"]
    assert await storage.delete_expired(NOW) == 0  # idempotent: several processes sweep


async def test_an_entity_whose_expiry_was_removed_or_moved_stays(storage: Storage) -> None:
    assert await storage.insert_entity("", _entity("moved", NOW - 10))
    assert await storage.insert_entity("", _entity("removed", NOW - 10))
    (moved, removed) = sorted((await storage.query_entities("", EntityFilter(), Page()))[0], key=lambda e: e.id)
    moved.attrs["dateExpires"] = Attribute("DateTime", NOW + 3600)
    del removed.attrs["dateExpires"]
    assert await storage.replace_entity("", moved) and await storage.replace_entity("", removed)
    assert await storage.delete_expired(NOW) == 0
    assert await _ids(storage, "") == ["moved", "removed"]
    assert await storage.delete_expired(NOW + 3600) == 1
    assert await _ids(storage, "") == ["removed"]
