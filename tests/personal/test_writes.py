"""Writes to personal entities need the subject's write consent, on every write path."""

from __future__ import annotations

from tests.personal.conftest import ALICE, BOB, CLINIC, create_record, declare, grant


async def _hr(api, headers, id_="HR-alice"):
    r = await api.get(f"/v2/entities/{id_}", headers=headers)
    return r.status, (await r.json() if r.status == 200 else None)


async def test_update_and_delete_without_write_consent_are_404_and_change_nothing(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice", steps=1)
    await grant(api, ALICE)  # read only
    for method, url, body in (
        ("PATCH", "/v2/entities/HR-alice/attrs", {"steps": {"value": 2}}),
        ("POST", "/v2/entities/HR-alice/attrs", {"x": {"value": 2}}),
        ("PUT", "/v2/entities/HR-alice/attrs/steps", {"value": 2}),
        ("PUT", "/v2/entities/HR-alice/attrs/steps/value", {"a": 2}),
        ("DELETE", "/v2/entities/HR-alice/attrs/steps", None),
        ("DELETE", "/v2/entities/HR-alice", None),
    ):
        r = await api.request(method, url, json=body, headers=CLINIC)
        assert r.status == 404, (method, url, await r.text())
    _, doc = await _hr(api, ALICE)
    assert doc["steps"]["value"] == 1 and "x" not in doc


async def test_write_consent_allows_updates_of_its_attributes_only(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice", steps=1)
    await grant(api, ALICE, operations=["read", "write"], attrs=["steps"])
    r = await api.patch("/v2/entities/HR-alice/attrs", json={"steps": {"value": 9}}, headers=CLINIC)
    assert r.status == 204
    r = await api.patch("/v2/entities/HR-alice/attrs", json={"heartRate": {"value": 1}}, headers=CLINIC)
    assert r.status == 403
    r = await api.patch("/v2/entities/HR-alice/attrs", json={"refResident": {"value": "bob"}}, headers=CLINIC)
    assert r.status == 403  # handing the entity to another subject needs that attribute (and bob's consent)
    _, doc = await _hr(api, ALICE)
    assert doc["steps"]["value"] == 9 and doc["heartRate"]["value"] == 70 and doc["refResident"]["value"] == "alice"


async def test_batch_update_is_refused_whole_without_write_consent(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice", steps=1)
    batch = {
        "actionType": "append",
        "entities": [
            {"id": "WL-9", "type": "WaterLevel", "level": {"value": 1}},
            {"id": "HR-new", "type": "HealthRecord", "refResident": {"value": "bob"}, "steps": {"value": 5}},
        ],
    }
    r = await api.post("/v2/op/update", json=batch, headers=CLINIC)
    assert r.status == 403
    r = await api.get("/v2/entities/WL-9")
    assert r.status == 404  # nothing of the batch was applied
    await grant(api, BOB, operations=["write", "read"])
    r = await api.post("/v2/op/update", json=batch, headers=CLINIC)
    assert r.status == 204
    assert (await _hr(api, BOB, "HR-new"))[0] == 200
    hidden = {"actionType": "append", "entities": [{"id": "HR-alice", "type": "HealthRecord", "steps": {"value": 0}}]}
    r = await api.post("/v2/op/update", json=hidden, headers=CLINIC)
    assert r.status == 403
    r = await api.post(
        "/v2/op/update",
        json={"actionType": "delete", "entities": [{"id": "HR-alice", "type": "HealthRecord"}]},
        headers=CLINIC,
    )
    assert r.status == 404
    assert (await _hr(api, ALICE))[1]["steps"]["value"] == 1


async def test_anonymous_writes_to_personal_types_are_401(api):
    await declare(api)
    r = await api.post("/v2/entities", json={"id": "HR-1", "type": "HealthRecord", "refResident": {"value": "alice"}})
    assert r.status == 401
    r = await api.post(
        "/v2/op/update",
        json={
            "actionType": "append",
            "entities": [{"id": "HR-1", "type": "HealthRecord", "refResident": {"value": "alice"}}],
        },
    )
    assert r.status == 401


async def test_operators_bypass_nothing(api):
    from tests.personal.conftest import OPERATOR

    await declare(api)
    await create_record(api, "HR-alice", "alice")
    assert (await _hr(api, OPERATOR))[0] == 404
    r = await api.delete("/v2/entities/HR-alice", headers=OPERATOR)
    assert r.status == 404
