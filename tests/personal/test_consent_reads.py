"""Reads of personal entities through the NGSI-v2 API, filtered by consent."""

from __future__ import annotations

from tests.personal.conftest import ALICE, BOB, CLINIC, SHOP, create_record, declare, grant


async def _setup(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice", steps=8000, heartRate=90)
    await create_record(api, "HR-bob", "bob", steps=3000, heartRate=60)
    r = await api.post("/v2/entities", json={"id": "WL-1", "type": "WaterLevel", "level": {"value": 1.5}})
    assert r.status == 201


async def test_service_sees_only_consented_entities_and_attributes(api):
    await _setup(api)
    await grant(api, ALICE, attrs=["steps"])
    r = await api.get("/v2/entities?type=HealthRecord&options=count", headers=CLINIC)
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "1"
    assert await r.json() == [
        {"id": "HR-alice", "type": "HealthRecord", "steps": {"type": "Number", "value": 8000, "metadata": {}}}
    ]


async def test_without_consent_a_personal_entity_does_not_exist(api):
    await _setup(api)
    r = await api.get("/v2/entities/HR-alice", headers=SHOP)
    assert r.status == 404
    assert await r.json() == {
        "error": "NotFound",
        "description": "The requested entity has not been found. Check type and id",
    }
    r = await api.get("/v2/entities?options=count", headers=SHOP)
    assert r.headers["Fiware-Total-Count"] == "1"
    assert [e["id"] for e in await r.json()] == ["WL-1"]


async def test_anonymous_request_naming_a_personal_type_is_401(api):
    await _setup(api)
    r = await api.get("/v2/entities?type=HealthRecord")
    assert r.status == 401
    assert (await r.json())["error"] == "Unauthorized"
    r = await api.get("/v2/entities")  # open data stays open
    assert r.status == 200 and [e["id"] for e in await r.json()] == ["WL-1"]


async def test_invalid_token_is_401(api):
    r = await api.get("/v2/entities", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status == 401
    assert (await r.json())["error"] == "Unauthorized"


async def test_q_on_hidden_attribute_behaves_as_absent(api):
    await _setup(api)
    await grant(api, ALICE, attrs=["steps"])
    r = await api.get("/v2/entities?type=HealthRecord&q=heartRate>10", headers=CLINIC)
    assert await r.json() == []
    r = await api.get("/v2/entities?type=HealthRecord&q=!heartRate&attrs=steps&options=keyValues", headers=CLINIC)
    assert await r.json() == [{"id": "HR-alice", "type": "HealthRecord", "steps": 8000}]
    r = await api.get("/v2/entities/HR-alice/attrs/heartRate", headers=CLINIC)
    assert r.status == 404


async def test_types_count_only_visible_entities_and_attributes(api):
    await _setup(api)
    await grant(api, ALICE, attrs=["steps"])
    r = await api.get("/v2/types", headers=CLINIC)
    body = await r.json()
    assert body == [
        {"type": "HealthRecord", "attrs": {"steps": {"types": ["Number"]}}, "count": 1},
        {"type": "WaterLevel", "attrs": {"level": {"types": ["Number"]}}, "count": 1},
    ]
    r = await api.get("/v2/types", headers=SHOP)
    assert [t["type"] for t in await r.json()] == ["WaterLevel"]


async def test_withdrawal_takes_effect_on_the_very_next_read(api):
    await _setup(api)
    consent = await grant(api, ALICE)
    r = await api.get("/v2/entities/HR-alice", headers=CLINIC)
    assert r.status == 200
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=ALICE)
    assert r.status == 204
    r = await api.get("/v2/entities/HR-alice", headers=CLINIC)
    assert r.status == 404


async def test_resident_sees_own_data_only(api):
    await _setup(api)
    r = await api.get("/v2/entities?type=HealthRecord", headers=BOB)
    assert [e["id"] for e in await r.json()] == ["HR-bob"]


async def test_creation_without_write_consent_is_403_and_with_it_201(api):
    await declare(api)
    body = {"id": "HR-x", "type": "HealthRecord", "refResident": {"value": "alice"}, "steps": {"value": 1}}
    r = await api.post("/v2/entities", json=body, headers=CLINIC)
    assert r.status == 403
    assert (await r.json())["error"] == "Forbidden"
    await grant(api, ALICE, operations=["write"])
    r = await api.post("/v2/entities", json=body, headers=CLINIC)
    assert r.status == 201


async def test_access_log_records_disclosures_and_verifies(api):
    from tests.personal.conftest import OPERATOR

    await _setup(api)
    consent = await grant(api, ALICE, attrs=["steps"])
    await api.get("/v2/entities?type=HealthRecord", headers=CLINIC)
    r = await api.get("/personal/v1/access-log", headers=ALICE)
    records = await r.json()
    assert len(records) == 1
    rec = records[0]
    assert (rec["recipient"], rec["subject"], rec["entityId"], rec["attrs"], rec["consent"], rec["channel"]) == (
        "svc-clinic",
        "alice",
        "HR-alice",
        ["steps"],
        consent,
        "query",
    )
    r = await api.get("/personal/v1/access-log/verify", headers=OPERATOR)
    assert await r.json() == {"valid": True, "records": 1, "firstInvalid": None}
