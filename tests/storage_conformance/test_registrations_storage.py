"""Registrations through the storage port, the same on every backend: save, replace, find, page, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from broker.ngsi.registration import Owner, Registration
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


async def test_owner_and_forwarding_counters_read_back_whole(storage: Storage) -> None:
    reg = _reg(
        IDS[0],
        owner="alice",
        owner_roles=["doctor", "admin"],
        times_sent=3,
        last_forwarding=1700000002.25,
        last_success=1700000001.5,
        last_failure=1700000002.25,
    )
    await storage.save_registration(reg)
    stored = await storage.get_registration("t", IDS[0])
    assert stored == reg and stored is not None and stored.owner_roles == ("doctor", "admin")


async def test_record_forwarding_counts_each_request_and_dates_its_outcome(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    fresh = await storage.get_registration("t", IDS[0])
    assert fresh is not None and (fresh.times_sent, fresh.last_forwarding, fresh.last_success, fresh.last_failure) == (
        0,
        None,
        None,
        None,
    )
    await storage.record_forwarding("t", IDS[0], ok=True, at=1700000000.125)
    await storage.record_forwarding("t", IDS[0], ok=False, at=1700000005.5)
    await storage.record_forwarding("t", IDS[0], ok=True, at=1700000009.0)
    reg = await storage.get_registration("t", IDS[0])
    assert reg is not None
    assert (reg.times_sent, reg.last_forwarding, reg.last_success, reg.last_failure) == (
        3,
        1700000009.0,
        1700000009.0,
        1700000005.5,
    )
    # every other field as saved
    assert reg == _reg(
        IDS[0], times_sent=3, last_forwarding=1700000009.0, last_success=1700000009.0, last_failure=1700000005.5
    )


async def test_record_forwarding_concurrent_calls_all_count(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    await asyncio.gather(
        *(storage.record_forwarding("t", IDS[0], ok=n % 2 == 0, at=1700000000.0 + n) for n in range(20))
    )
    reg = await storage.get_registration("t", IDS[0])
    assert reg is not None and reg.times_sent == 20
    assert reg.last_forwarding is not None and reg.last_success is not None and reg.last_failure is not None


async def test_record_forwarding_of_a_missing_registration_changes_nothing(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    await storage.record_forwarding("t", IDS[1], ok=True, at=1700000000.0)  # never existed
    await storage.record_forwarding("other", IDS[0], ok=True, at=1700000000.0)  # another tenant's
    await storage.record_forwarding("t", "not-an-object-id", ok=False, at=1700000000.0)
    await storage.delete_registration("t", IDS[0])
    await storage.record_forwarding("t", IDS[0], ok=True, at=1700000000.0)  # deleted meanwhile
    assert await storage.get_registration("t", IDS[0]) is None
    assert await storage.get_registration("t", IDS[1]) is None
    assert await storage.get_registration("other", IDS[0]) is None
    assert await storage.find_registrations("t", Page()) == ([], 0)


async def test_change_sets_only_the_fields_given(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0], owner="alice", owner_roles=["doctor"]))
    changed = await storage.change_registration(
        "t",
        IDS[0],
        {
            "url": "https://other.example/ngsi/",
            "forwarding_mode": "update",
            "legacy_forwarding": True,
            "expires": 1900000000.0,
            "status": "active",
        },
    )
    assert changed is True
    assert await storage.get_registration("t", IDS[0]) == _reg(
        IDS[0],
        owner="alice",
        owner_roles=["doctor"],
        url="https://other.example/ngsi/",
        forwarding_mode="update",
        legacy_forwarding=True,
        expires=1900000000.0,
        status="active",
    )


async def test_change_to_none_takes_optional_fields_away(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    assert await storage.change_registration("t", IDS[0], {"description": None, "expires": None, "status": None})
    assert await storage.get_registration("t", IDS[0]) == _reg(IDS[0], description=None, expires=None, status=None)


async def test_change_of_a_missing_registration_is_false_and_creates_nothing(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    assert await storage.change_registration("t", IDS[1], {"status": "active"}) is False
    assert await storage.change_registration("other", IDS[0], {"status": "active"}) is False
    assert await storage.change_registration("t", "not-an-object-id", {"status": "active"}) is False
    assert await storage.change_registration("t", IDS[1], {}) is False
    assert await storage.change_registration("t", IDS[0], {}) is True
    assert await storage.get_registration("t", IDS[1]) is None
    assert await storage.get_registration("other", IDS[0]) is None
    assert await storage.get_registration("t", IDS[0]) == _reg(IDS[0])


async def test_changes_and_forwarding_counters_interleaved_lose_neither(storage: Storage) -> None:
    await storage.save_registration(_reg(IDS[0]))
    modes = ["all", "query", "update", "none"]
    await asyncio.gather(
        *(storage.record_forwarding("t", IDS[0], ok=True, at=1700000000.0 + n) for n in range(10)),
        *(storage.change_registration("t", IDS[0], {"forwarding_mode": modes[n % 4]}) for n in range(9)),
        storage.change_registration("t", IDS[0], {"description": "patched"}),
    )
    reg = await storage.get_registration("t", IDS[0])
    assert reg is not None
    assert reg.times_sent == 10 and reg.last_success == reg.last_forwarding
    assert reg.description == "patched" and reg.forwarding_mode in modes
    assert (reg.url, reg.entities, reg.attrs) == (_reg(IDS[0]).url, _reg(IDS[0]).entities, _reg(IDS[0]).attrs)


async def test_find_by_owner_pages_and_counts_only_that_creators(storage: Storage) -> None:
    owners = ["alice", "bob", None, "alice"]
    for reg_id, owner in zip(IDS, owners):
        await storage.save_registration(_reg(reg_id, owner=owner, owner_roles=["r"] if owner else []))
    docs, total = await storage.find_registrations("t", Page(), owned_by=Owner("alice"))
    assert total == 2 and [d.id for d in docs] == [IDS[0], IDS[3]]
    docs, total = await storage.find_registrations("t", Page(limit=1, offset=1), owned_by=Owner("alice"))
    assert total == 2 and [d.id for d in docs] == [IDS[3]]
    docs, total = await storage.find_registrations("t", Page(), owned_by=Owner(None))  # created without a token
    assert total == 1 and [d.id for d in docs] == [IDS[2]]
    docs, total = await storage.find_registrations("t", Page(), service_path="/", owned_by=Owner("carol"))
    assert (docs, total) == ([], 0)
    assert (await storage.find_registrations("t", Page()))[1] == 4
