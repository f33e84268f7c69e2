"""Notifications follow the rule that decides reads: a subscription receives a personal entity
exactly when its creator's GET of that entity would show it (issue 19, item 5)."""

from __future__ import annotations

from tests.personal.conftest import bearer, create_record, declare
from tests.receivers import drained

ALICE_WITHOUT_ROLE = bearer("alice")  # the subject's own name, but not the resident role
ALICE_RESIDENT = bearer("alice", "resident")


async def _subscribe(api, who, url) -> str:
    body = {
        "subject": {"entities": [{"idPattern": ".*", "type": "HealthRecord"}]},
        "notification": {"http": {"url": url}, "attrs": ["steps", "refResident"]},
    }
    r = await api.post("/v2/subscriptions", json=body, headers=who)
    assert r.status == 201, await r.text()
    return r.headers["Location"]


async def _sent(api, who, sub_url) -> int:
    r = await api.get(sub_url, headers=who)
    assert r.status == 200
    return (await r.json())["notification"].get("timesSent", 0)


async def test_a_token_without_the_resident_role_neither_reads_nor_is_notified_of_its_subjects_entity(api, receiver):
    await declare(api)
    r = await api.get("/v2/entities/HR-alice", headers=ALICE_WITHOUT_ROLE)
    assert r.status == 404  # nothing yet, and below: still nothing once it exists
    quiet = await _subscribe(api, ALICE_WITHOUT_ROLE, receiver.url)
    resident = await _subscribe(api, ALICE_RESIDENT, receiver.url)
    await create_record(api, "HR-alice", "alice", steps=12)
    r = await api.get("/v2/entities/HR-alice", headers=ALICE_WITHOUT_ROLE)
    assert r.status == 404
    r = await api.get("/v2/entities/HR-alice", headers=ALICE_RESIDENT)
    assert r.status == 200
    await drained(api)  # every notification owed by the change is settled
    resident_id = resident.rsplit("/", 1)[1]
    assert [n["subscriptionId"] for n in receiver.bodies] == [resident_id]
    assert receiver.bodies[0]["data"][0]["steps"]["value"] == 12
    assert await _sent(api, ALICE_WITHOUT_ROLE, quiet) == 0  # both matched the same change; one was owed nothing
    assert await _sent(api, ALICE_RESIDENT, resident) == 1
