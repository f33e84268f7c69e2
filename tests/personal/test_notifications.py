"""Notifications about personal entities go only to consented subscription creators, re-checked at delivery."""

from __future__ import annotations

from tests.personal.conftest import ALICE, CLINIC, SHOP, create_record, declare, grant
from tests.receivers import drained


async def _subscribe(api, who, url, **condition):
    subject = {"entities": [{"idPattern": ".*", "type": "HealthRecord"}]}
    if condition:
        subject["condition"] = condition
    body = {
        "subject": subject,
        "notification": {"http": {"url": url}},
    }
    r = await api.post("/v2/subscriptions", json=body, headers=who)
    assert r.status == 201, await r.text()
    return r.headers["Location"].rsplit("/", 1)[1]


async def _settle(api, receiver, n):
    """`n` notifications arrived, and everything owed is settled: nothing else will arrive."""
    await receiver.wait_for(n)
    await drained(api)


async def test_notification_carries_only_consented_attributes_and_is_logged(api, receiver):
    await declare(api)
    consent = await grant(api, ALICE, attrs=["steps"])
    await _subscribe(api, CLINIC, receiver.url)
    await _subscribe(api, SHOP, receiver.url)
    await create_record(api, "HR-alice", "alice", steps=42)
    await _settle(api, receiver, 1)
    assert len(receiver.bodies) == 1
    (entity,) = receiver.bodies[0]["data"]
    assert entity == {
        "id": "HR-alice",
        "type": "HealthRecord",
        "steps": {"type": "Number", "value": 42, "metadata": {}},
    }
    r = await api.get("/personal/v1/access-log", headers=ALICE)
    channels = [(x["channel"], x["recipient"], x["consent"]) for x in await r.json()]
    assert ("notification", "svc-clinic", consent) in channels


async def test_condition_on_hidden_attribute_never_fires(api, receiver):
    await declare(api)
    await grant(api, ALICE, attrs=["steps"])
    await _subscribe(api, CLINIC, receiver.url, expression={"q": "heartRate>0"})
    await create_record(api, "HR-alice", "alice")
    await drained(api)
    assert receiver.bodies == []


async def test_no_notification_after_withdrawal(api, receiver):
    await declare(api)
    consent = await grant(api, ALICE)
    await _subscribe(api, CLINIC, receiver.url)
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=ALICE)
    assert r.status == 204
    await create_record(api, "HR-alice-2", "alice")
    await drained(api)
    assert all(e["id"] != "HR-alice-2" for n in receiver.bodies for e in n["data"])


async def test_subscriptions_are_private_to_their_creator_when_auth_is_on(api, receiver):
    sub = await _subscribe(api, CLINIC, receiver.url)
    r = await api.get("/v2/subscriptions", headers=SHOP)
    assert await r.json() == []
    r = await api.get(f"/v2/subscriptions/{sub}", headers=SHOP)
    assert r.status == 404
    r = await api.delete(f"/v2/subscriptions/{sub}", headers=SHOP)
    assert r.status == 404
    r = await api.get("/v2/subscriptions", headers=CLINIC)
    assert [s["id"] for s in await r.json()] == [sub]


async def test_queued_notification_is_rechecked_at_delivery_and_dropped_after_withdrawal(api, receiver):
    await declare(api)
    consent = await grant(api, ALICE)
    await _subscribe(api, CLINIC, receiver.url)
    receiver.up = False
    await create_record(api, "HR-alice", "alice")
    await receiver.wait_refused()  # the first attempt failed: the notification waits in the outbox
    assert receiver.refused >= 1
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=ALICE)
    assert r.status == 204
    receiver.up = True
    await drained(api)  # retried, re-checked, and dropped
    assert receiver.bodies == []
    r = await api.get("/personal/v1/access-log", headers=ALICE)
    assert [x for x in await r.json() if x["channel"] == "notification"] == []


async def test_queued_notification_is_narrowed_to_the_attributes_consented_at_delivery(api, receiver):
    await declare(api)
    wide = await grant(api, ALICE)
    await _subscribe(api, CLINIC, receiver.url)
    receiver.up = False
    await create_record(api, "HR-alice", "alice", steps=7)
    await receiver.wait_refused()
    await grant(api, ALICE, attrs=["steps"])
    r = await api.delete(f"/personal/v1/consents/{wide}", headers=ALICE)
    assert r.status == 204
    receiver.up = True
    await _settle(api, receiver, 1)
    assert [sorted(n["data"][0]) for n in receiver.bodies] == [["id", "steps", "type"]]


async def test_a_notification_queued_before_its_type_was_declared_personal_is_checked_at_delivery(api, receiver):
    await _subscribe(api, CLINIC, receiver.url)
    receiver.up = False
    r = await api.post(
        "/v2/entities",
        json={"id": "HR-early", "type": "HealthRecord", "refResident": {"value": "alice"}, "heartRate": {"value": 99}},
    )
    assert r.status == 201  # open data still: anyone may write it
    await receiver.wait_refused()
    assert receiver.refused >= 1
    await declare(api)
    receiver.up = True
    await drained(api)
    assert receiver.bodies == []  # the clinic holds no consent from alice
