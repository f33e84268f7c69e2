"""Registrations through the storage port, the same on every backend: save, replace, find, page, delete."""

from __future__ import annotations

from typing import Any

from broker.ngsi.registration import Registration
from broker.ngsi.selection import Page
from broker.storage.port import Storage
from broker.storage.registration_codec import from_doc


def _reg(reg_id: str, path: str = "/", **fields: Any) -> Registration:
    doc: dict[str, Any] = {
        "id": reg_id,
        "tenant": "t",
        "service_path": path,
        "entities": [{"id": "E1", "id_pattern": None, "type": "T"}, {"id": None, "id_pattern": ".*", "type": None}],
        "attrs": ["a", "b"],
        "url": "http://cp.example/v2",
        "forwarding_mode": "query",
        "legacy_forwarding": False,
        "description": "provider",
        "expires": 1893456000.0,
        "status": "inactive",
    }
    doc.update(fields)
    return from_doc(doc)


IDS = [f"5f1a2b3c4d5e6f7a8b9c0d0{n}" for n in range(1, 5)]


async def test_a_saved_registration_reads_back_whole(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    assert await storage.get_registration("t", IDS[0]) == _reg(IDS[0])
    assert await storage.get_registration("other", IDS[0]) is None
    assert await storage.get_registration("t", IDS[1]) is None


async def test_optional_fields_absent_read_back_as_none(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    bare = _reg(
        IDS[0],
        description=None,
        expires=None,
        status=None,
        attrs=[],
        entities=[],
        legacy_forwarding=True,
        forwarding_mode="all",
    )
    await storage.save_registration(bare)  # a replace takes fields away too
    assert await storage.get_registration("t", IDS[0]) == bare


async def test_find_pages_in_creation_order_and_filters_by_service_path(storage: Storage) -> None:
    for reg_id, path in zip(reversed(IDS), ["/", "/a", "/", "/a"]):  # ids out of order: creation order counts
        await storage.save_registration(_reg(reg_id, path))
    docs, total = await storage.find_registrations("t", Page(limit=2, offset=1))
    assert total == 4 and [d.id for d in docs] == [IDS[2], IDS[1]]
    docs, total = await storage.find_registrations("t", Page(), service_path="/a")
    assert total == 2 and [d.id for d in docs] == [IDS[2], IDS[0]]
    assert await storage.find_registrations("empty", Page()) == ([], 0)


async def test_delete_says_whether_there_was_one(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    assert await storage.delete_registration("t", IDS[0]) is True
    assert await storage.delete_registration("t", IDS[0]) is False
    assert await storage.get_registration("t", IDS[0]) is None
