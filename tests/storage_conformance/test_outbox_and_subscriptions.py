"""Subscriptions, their delivery counters and the notification outbox, on every backend."""

from __future__ import annotations

from broker.ngsi.model import Attribute, Entity
from broker.ngsi.selection import EntityFilter, Page
from broker.ngsi.subscription import Subscription, SubscriptionStatus
from broker.storage.port import OutboxRecord, Write
from broker.storage.subscription_codec import from_doc

SUB = "5f0c7e0c2a1b3c4d5e6f7a8b"  # 24 hex digits, as the service creates them


def _sub(sub_id: str = SUB, tenant: str = "t", **extra) -> Subscription:
    doc = {
        "id": sub_id,
        "tenant": tenant,
        "service_path": "/#",
        "entities": [{"id": None, "id_pattern": ".*", "type": "Room", "type_pattern": None}],
        "condition": {
            "attrs": ["temp"],
            "q": "temp>20",
            "mq": None,
            "georel": None,
            "geometry": None,
            "coords": None,
            "alteration_types": [],
            "notify_on_metadata_change": True,
        },
        "notification": {
            "target": {
                "kind": "http",
                "url": "http://localhost:9/notify",
                "custom": False,
                "method": None,
                "headers": {},
                "qs": {},
                "payload": None,
                "payload_set": False,
                "json": None,
                "ngsi": None,
                "timeout": None,
            },
            "attrs": ["temp"],
            "except_attrs": [],
            "attrs_format": "normalized",
            "metadata": [],
            "only_changed_attrs": False,
            "covered": False,
            "max_fails_limit": None,
        },
        "description": "rooms",
        "status": "active",
        "expires": None,
        "throttling": None,
        "owner": None,
        "created_at": 1700000000.5,
    }
    doc.update(extra)
    return from_doc(doc)


def _record(n: int, sub_id: str = SUB, due: float = 0.0) -> OutboxRecord:
    return OutboxRecord("t", sub_id, {"n": n, "data": [{"id": f"E{n}"}]}, created=float(n), due=due, cbnotif=n)


def _entity(i: int) -> Entity:
    return Entity(f"E{i}", "Room", "/", {"temp": Attribute("Number", 20 + i)}, cre_date=1.0, mod_date=1.0)


async def test_subscriptions_read_back_with_their_counters(storage):
    await storage.save_subscription(_sub())
    await storage.save_subscription(_sub("other", tenant="u"))
    loaded = await storage.load_subscriptions()
    assert sorted(s.id for s in loaded) == sorted([SUB, "other"])
    sub = next(s for s in loaded if s.id == SUB)
    assert sub == _sub() and sub.delivery == SubscriptionStatus()

    counters = SubscriptionStatus(
        times_sent=3,
        last_notification=1700000001.25,
        last_success=1700000001.25,
        last_success_code=204,
        last_failure=None,
        last_failure_reason=None,
        fails_counter=0,
    )
    await storage.save_delivery("t", SUB, counters)
    assert await storage.get_delivery("t", SUB) == counters
    assert await storage.get_delivery("t", "nope") is None


async def test_saving_a_subscription_again_keeps_its_counters(storage):
    await storage.save_subscription(_sub())
    await storage.save_delivery("t", SUB, SubscriptionStatus(times_sent=5))
    await storage.save_subscription(_sub(description="changed"))
    (sub,) = await storage.load_subscriptions()
    assert sub.description == "changed" and sub.delivery == SubscriptionStatus(times_sent=5)


async def test_the_subscriptions_version_moves_on_every_change(storage):
    v0 = await storage.subscriptions_version()
    await storage.save_subscription(_sub())
    v1 = await storage.subscriptions_version()
    assert await storage.delete_subscription("t", SUB)
    v2 = await storage.subscriptions_version()
    assert v0 < v1 < v2
    assert not await storage.delete_subscription("t", SUB)


async def test_notifications_are_stored_with_their_change_and_delivered_in_order(storage):
    await storage.save_subscription(_sub())
    assert await storage.insert_entity("t", _entity(1), [_record(1)])
    assert await storage.insert_entity("t", _entity(2), [_record(2), _record(3, sub_id="x", due=50.0)])
    assert await storage.due_subscriptions(10.0) == [SUB]
    assert set(await storage.due_subscriptions(60.0)) == {SUB, "x"}
    pending = await storage.pending_for(SUB, 10)
    assert [(r.payload["n"], r.cbnotif, r.tenant, r.subscription_id) for r in pending] == [
        (1, 1, "t", SUB),
        (2, 2, "t", SUB),
    ]
    assert pending[0].payload == {"n": 1, "data": [{"id": "E1"}]}
    assert [r.payload["n"] for r in await storage.pending_for(SUB, 1)] == [1]

    await storage.retry_notification(pending[0].id, due=30.0, attempts=1)
    assert await storage.due_subscriptions(10.0) == []  # the head is not due: delivery keeps order
    (head, _) = await storage.pending_for(SUB, 10)
    assert (head.due, head.attempts) == (30.0, 1)

    await storage.finish_notifications([pending[0].id])
    assert [r.payload["n"] for r in await storage.pending_for(SUB, 10)] == [2]


async def test_the_outbox_size_counts_the_notifications_owed_by_every_tenant(storage):
    assert await storage.outbox_size() == 0
    assert await storage.insert_entity("t", _entity(1), [_record(1), _record(2, sub_id="x")])
    other = OutboxRecord("u", SUB, {"n": 3}, created=3.0, due=0.0, cbnotif=3)
    assert await storage.insert_entity("u", _entity(2), [other])
    assert await storage.outbox_size() == 3
    (first,) = await storage.pending_for("x", 10)
    await storage.finish_notifications([first.id])
    assert await storage.outbox_size() == 2


async def test_a_refused_write_stores_no_notification(storage):
    assert await storage.insert_entity("t", _entity(1))
    assert not await storage.insert_entity("t", _entity(1), [_record(1)])
    assert await storage.pending_for(SUB, 10) == []


async def test_deleting_a_subscription_drops_what_it_is_owed(storage):
    await storage.save_subscription(_sub())
    await storage.insert_entity("t", _entity(1), [_record(1), _record(2, sub_id="x")])
    await storage.delete_subscription("t", SUB)
    assert await storage.pending_for(SUB, 10) == []
    assert len(await storage.pending_for("x", 10)) == 1


async def test_a_batch_is_all_or_nothing(storage):
    assert await storage.insert_entity("t", _entity(1))
    (e1,), _ = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page())
    e1.attrs["temp"].value = 99
    refused = [Write("insert", _entity(2)), Write("replace", e1), Write("delete", e1), Write("insert", _entity(1))]
    assert not await storage.write_batch("t", refused, [_record(1)])
    found, total = await storage.query_entities("t", EntityFilter(), Page(), count=True)
    assert total == 1 and found[0].attrs["temp"].value == 21 and found[0].version == e1.version
    assert await storage.pending_for(SUB, 10) == []

    assert await storage.write_batch("t", [Write("insert", _entity(2)), Write("replace", e1)], [_record(1)])
    found, _ = await storage.query_entities("t", EntityFilter(), Page())
    assert [(e.id, e.attrs["temp"].value) for e in found] == [("E1", 99), ("E2", 22)]
    assert len(await storage.pending_for(SUB, 10)) == 1


async def test_a_replace_moves_the_version_and_keeps_the_creation_order(storage):
    for i in (1, 2):
        assert await storage.insert_entity("t", _entity(i))
    (e1,), _ = await storage.query_entities("t", EntityFilter(ids=("E1",)), Page())
    e1.attrs["extra"] = Attribute("Text", "x")
    assert await storage.replace_entity("t", e1)
    found, _ = await storage.query_entities("t", EntityFilter(), Page())
    assert [e.id for e in found] == ["E1", "E2"]
    assert found[0].version != e1.version and set(found[0].attrs) == {"temp", "extra"}


async def test_the_delivering_process_sees_what_others_write_and_delete(storage, request, tmp_path):
    """Two stores on one database, as the broker and its delivery worker: records written by the one
    reach the other in order, and those the writer deletes (subscription gone, subject erased) are
    not delivered."""
    from broker.storage.mongo import MongoStorage
    from broker.storage.sqlite import SqliteStorage

    if isinstance(storage, MongoStorage):
        other = MongoStorage(storage.uri, db=storage.db)
    else:
        assert isinstance(storage, SqliteStorage)
        other = SqliteStorage(storage.path)
    await other.start()
    try:
        await storage.save_subscription(_sub())
        assert await other.due_subscriptions(10.0) == []
        subject = OutboxRecord("t", SUB, {"n": 3}, created=3.0, due=0.0, cbnotif=3, subject="resident-1")
        assert await storage.insert_entity("t", _entity(1), [_record(1), _record(2, sub_id="x")])
        assert await other.due_subscriptions(10.0) == [SUB, "x"]
        assert await storage.insert_entity("t", _entity(2), [subject, _record(4)])
        assert [r.payload["n"] for r in await other.pending_for(SUB, 10)] == [1, 3, 4]
        assert await storage.drop_notifications_of("t", "resident-1") == 1
        assert await storage.delete_subscription("t", "x") is False  # no such subscription, its records go
        assert [r.payload["n"] for r in await other.pending_for(SUB, 10)] == [1, 4]
        assert await other.pending_for("x", 10) == []
        assert await other.due_subscriptions(10.0) == [SUB]
        first, last = await other.pending_for(SUB, 10)
        await other.finish_notifications([first.id])
        assert [r.id for r in await other.pending_for(SUB, 10)] == [last.id]
    finally:
        await other.close()


async def test_a_refused_delete_in_another_tenant_keeps_what_the_subscription_is_owed(storage):
    await storage.save_subscription(_sub())
    assert await storage.insert_entity("t", _entity(1), [_record(1)])
    assert await storage.due_subscriptions(10.0) == [SUB]
    assert await storage.delete_subscription("other", SUB) is False
    assert await storage.due_subscriptions(10.0) == [SUB]
    assert [r.payload["n"] for r in await storage.pending_for(SUB, 10)] == [1]


async def test_a_backlog_longer_than_a_page_is_read_whole_and_in_order(storage, monkeypatch):
    from broker.storage.sqlite import subscriptions as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "OUTBOX_PAGE", 3)  # SQLite reads its backlog in pages
    await storage.save_subscription(_sub())
    for i in range(1, 8):
        assert await storage.insert_entity("t", _entity(i), [_record(i)])
    assert await storage.due_subscriptions(10.0) == [SUB]
    assert [r.payload["n"] for r in await storage.pending_for(SUB, 100)] == [1, 2, 3, 4, 5, 6, 7]
