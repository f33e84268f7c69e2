"""Personal-data storage: types and their version, consents, the access-log chain, visibility, erasure."""

from __future__ import annotations

import dataclasses

from broker.ngsi.consent import Consent
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.selection import EntityFilter, Grant, Page, Visibility
from broker.personal import access_log
from broker.personal.access_log_append import append
from broker.storage.port import OutboxRecord
from tests.access_log_records import record as _record


def _person(i: int, subject: str, **attrs: object) -> Entity:
    values = {"owner": Attribute("Text", subject), **{k: Attribute("Number", v) for k, v in attrs.items()}}
    return Entity(id=f"P{i}", type="Person", attrs=values, cre_date=float(i), mod_date=float(i))


async def test_personal_types_are_per_tenant_and_move_the_version(storage):
    _, v0 = await storage.personal_state("t")
    await storage.put_personal_type("t", "Person", "owner")
    types, v1 = await storage.personal_state("t")
    assert types == {"Person": "owner"} and v1 != v0
    assert (await storage.personal_state("other"))[0] == {}
    assert await storage.delete_personal_type("t", "Person")
    assert not await storage.delete_personal_type("t", "Person")
    assert (await storage.personal_state("t"))[0] == {}


async def test_active_consents_exclude_withdrawn_and_expired(storage):
    base = Consent("", "alice", "svc", ("Person",), None, "p", ("read",), 1.0)
    await storage.save_consent("t", dataclasses.replace(base, id="live"))
    await storage.save_consent("t", dataclasses.replace(base, id="old", expires=50.0))
    await storage.save_consent("t", dataclasses.replace(base, id="gone", withdrawn_at=10.0))
    _, v = await storage.personal_state("t")
    active, _ = await storage.find_consents("t", recipient="svc", active_at=100.0)
    assert [c.id for c in active] == ["live"]
    everything, total = await storage.find_consents("t", subject="alice", page=Page(limit=2))
    assert [c.id for c in everything] == ["live", "old"] and total == 3
    await storage.save_consent("t", dataclasses.replace(base, id="live", withdrawn_at=99.0))
    assert (await storage.find_consents("t", recipient="svc", active_at=100.0))[0] == []
    assert (await storage.personal_state("t"))[1] != v  # a withdrawal moves the version too
    assert (await storage.get_consent("t", "live")).withdrawn_at == 99.0
    assert await storage.get_consent("other", "live") is None


async def test_access_log_chain_and_head(storage):
    await append(storage, "t", [_record(1), _record(2, "bob")])
    await append(storage, "t", [_record(3)], wait=False)
    records, total = await storage.read_access_log("t")
    assert total == 3 and [r["entityId"] for r in records] == ["E1", "E2", "E3"]
    assert records[0]["prev"] == "" and records[1]["prev"] == records[0]["hash"]
    assert access_log.verify(records, await storage.access_log_head("t"))["valid"] is True
    mine, n = await storage.read_access_log("t", subject="alice", since=2.0)
    assert n == 1 and mine[0]["entityId"] == "E3"
    tampered = [dict(records[0], attrs=["b"])] + records[1:]
    assert access_log.verify(tampered, await storage.access_log_head("t"))["firstInvalid"] == 0
    assert access_log.verify(records[:2], await storage.access_log_head("t"))["firstInvalid"] == 2
    assert (await storage.read_access_log("other"))[1] == 0
    assert await storage.access_log_index_faults("t") == set()


async def test_appends_racing_from_two_stores_on_one_database_make_one_valid_chain(storage):
    """Two processes' stores (the broker and its delivery worker) append at once: each record is
    in the log once, each append's in its order, and the chain and head verify."""
    import asyncio

    from broker.storage.mongo import MongoStorage
    from broker.storage.sqlite import SqliteStorage

    other = MongoStorage(storage.uri, db=storage.db) if isinstance(storage, MongoStorage) else None
    if other is None:
        assert isinstance(storage, SqliteStorage)
        other = SqliteStorage(storage.path)
    await other.start()
    try:
        await asyncio.gather(
            *(append(storage, "t", [_record(i), _record(i + 1)]) for i in range(0, 40, 2)),
            *(append(other, "t", [_record(i, "bob")]) for i in range(100, 120)),
        )
        records, total = await storage.read_access_log("t")
        assert total == 60 and [r["seq"] for r in records] == sorted(r["seq"] for r in records)
        ids = [r["entityId"] for r in records]
        assert sorted(ids) == sorted([f"E{i}" for i in range(40)] + [f"E{i}" for i in range(100, 120)])
        assert all(ids.index(f"E{i}") < ids.index(f"E{i + 1}") for i in range(0, 40, 2))  # each append in order
        assert access_log.verify(records, await other.access_log_head("t"))["valid"] is True
    finally:
        await other.close()


async def test_a_mongo_access_log_document_with_a_changed_recipient_is_a_fault(mongo_db, raw):
    from broker.storage.mongo import MongoStorage

    uri, prefix = mongo_db
    storage = MongoStorage(uri, db=prefix)
    await storage.start()
    try:
        await append(storage, "t", [_record(1), _record(2)])
        assert await storage.access_log_index_faults("t") == set()
        coll = raw[f"{prefix}-t"]["ab_access_log"]  # the tenant's own database
        coll.update_one({"_id": 2}, {"$set": {"recipient": "nobody"}})
        assert await storage.access_log_index_faults("t") == {2}
        records, _ = await storage.read_access_log("t")
        verdict = access_log.verify(records, await storage.access_log_head("t"), {2})
        assert verdict == {"valid": False, "records": 2, "firstInvalid": 1}
    finally:
        await storage.close()


async def test_visibility_selects_granted_subjects_and_hides_attributes(storage):
    from broker.ngsi.query import parse_q

    await storage.put_personal_type("t", "Person", "owner")
    for i, (subject, x) in enumerate([("alice", 1), ("bob", 2), ("carol", 3)]):
        assert await storage.insert_entity("t", _person(i, subject, x=x, y=x))
    vis = Visibility(
        ("Person",), (Grant("Person", "owner", ("alice",), None), Grant("Person", "owner", ("bob",), frozenset({"y"})))
    )
    found, total = await storage.query_entities(
        "t", EntityFilter(types=("Person",), visibility=vis), Page(), count=True
    )
    assert [e.id for e in found] == ["P0", "P1"] and total == 2
    found, _ = await storage.query_entities("t", EntityFilter(q=parse_q("x>0"), visibility=vis), Page())
    assert [e.id for e in found] == ["P0"]  # bob's x is hidden: absent
    found, _ = await storage.query_entities("t", EntityFilter(q=parse_q("!x"), visibility=vis), Page())
    assert [e.id for e in found] == ["P1"]
    summaries, _ = await storage.list_types("t", (), Page(), visibility=vis)
    assert summaries[0].count == 2 and set(summaries[0].attrs) == {"owner", "x", "y"}
    only_bob = Visibility(("Person",), (Grant("Person", "owner", ("bob",), frozenset({"y"})),))
    summary = await storage.get_type("t", "Person", (), visibility=only_bob)
    assert summary is not None and summary.count == 1 and set(summary.attrs) == {"y"}
    assert await storage.get_type("t", "Person", (), visibility=Visibility(("Person",))) is None


def _ids(found: tuple[list[Entity], int | None]) -> list[str]:
    return [e.id for e in found[0]]


async def test_grants_follow_the_declared_subject_attribute_through_declarations_and_writes(storage):
    for i, subject in enumerate(["alice", "bob"]):
        entity = _person(i, subject)
        entity.attrs["heir"] = Attribute("Text", "carol")
        assert await storage.insert_entity("t", entity)
    assert await storage.insert_entity("t", Entity(id="P9", type="Person", attrs={"owner": Attribute("Number", 7)}))
    alice = EntityFilter(types=("Person",), visibility=Visibility(("Person",), (Grant("Person", "owner", ("alice",)),)))
    carol = EntityFilter(types=("Person",), visibility=Visibility(("Person",), (Grant("Person", "heir", ("carol",)),)))
    seven = EntityFilter(types=("Person",), visibility=Visibility(("Person",), (Grant("Person", "owner", ("7",)),)))
    await storage.put_personal_type("t", "Person", "owner")  # declared after the entities were written
    assert _ids(await storage.query_entities("t", alice, Page())) == ["P0"]
    assert _ids(await storage.query_entities("t", seven, Page())) == []  # a subject is text
    # a write that changes the subject attribute moves the entity to the new subject
    found, _ = await storage.query_entities("t", EntityFilter(ids=("P1",)), Page())
    moved = found[0]
    moved.attrs["owner"] = Attribute("Text", "alice")
    assert await storage.replace_entity("t", moved)
    assert _ids(await storage.query_entities("t", alice, Page())) == ["P0", "P1"]
    # declared again with another subject attribute: the entities' subjects follow it
    await storage.put_personal_type("t", "Person", "heir")
    assert _ids(await storage.query_entities("t", carol, Page())) == ["P0", "P1"]
    alice_as_heir = Visibility(("Person",), (Grant("Person", "heir", ("alice",)),))
    assert (
        _ids(await storage.query_entities("t", EntityFilter(types=("Person",), visibility=alice_as_heir), Page())) == []
    )
    # undeclared and declared again
    assert await storage.delete_personal_type("t", "Person")
    await storage.put_personal_type("t", "Person", "owner")
    assert _ids(await storage.query_entities("t", alice, Page())) == ["P0", "P1"]


async def test_dropping_a_subjects_queued_notifications_keeps_the_others(storage):
    from tests.storage_conformance.test_outbox_and_subscriptions import SUB, _sub

    await storage.save_subscription(_sub())
    owed = [
        OutboxRecord("t", SUB, {"n": 1}, created=1.0, due=1.0, subject="alice"),
        OutboxRecord("t", SUB, {"n": 2}, created=1.0, due=1.0, subject="bob"),
        OutboxRecord("t", SUB, {"n": 3}, created=1.0, due=1.0),
    ]
    assert await storage.insert_entity("t", _person(1, "alice"), owed)
    assert await storage.drop_notifications_of("t", "alice") == 1
    left = await storage.pending_for(SUB, 10)
    assert [(r.payload["n"], r.subject) for r in left] == [(2, "bob"), (3, None)]


async def test_a_setting_is_stored_once(storage):
    assert await storage.setting("k", "first") == "first"
    assert await storage.setting("k", "second") == "first"
