"""The /personal/v1 API: types, consents, receipts, access log, export, erasure, statistics."""

from __future__ import annotations

import sqlite3

import jwt
import orjson

from tests.personal.conftest import (
    ALICE,
    ANALYST,
    BOB,
    CLINIC,
    OPERATOR,
    SHOP,
    bearer,
    create_record,
    declare,
    grant,
)


async def test_declaring_types_needs_the_operator_role(api):
    r = await api.put("/personal/v1/types/HealthRecord", json={"subjectAttr": "refResident"}, headers=ALICE)
    assert r.status == 403 and (await r.json())["error"] == "Forbidden"
    r = await api.put("/personal/v1/types/HealthRecord", json={"subjectAttr": "refResident"})
    assert r.status == 401
    await declare(api)
    r = await api.get("/personal/v1/types", headers=OPERATOR)
    assert await r.json() == [{"type": "HealthRecord", "subjectAttr": "refResident"}]
    r = await api.get("/personal/v1/types/HealthRecord", headers=OPERATOR)
    assert await r.json() == {"type": "HealthRecord", "subjectAttr": "refResident"}
    r = await api.delete("/personal/v1/types/HealthRecord", headers=OPERATOR)
    assert r.status == 204
    r = await api.get("/personal/v1/types/HealthRecord", headers=OPERATOR)
    assert r.status == 404


async def test_subject_attr_with_forbidden_characters_is_400_and_stores_nothing(api):
    for bad in ("ref'); DROP TABLE consents;--", "", "a b", 5):
        r = await api.put("/personal/v1/types/T", json={"subjectAttr": bad}, headers=OPERATOR)
        assert r.status == 400, bad
    r = await api.get("/personal/v1/types", headers=OPERATOR)
    assert await r.json() == []


async def test_declaring_a_type_personal_applies_to_existing_entities(api):
    r = await api.post("/v2/entities", json={"id": "H1", "type": "HealthRecord", "refResident": {"value": "alice"}})
    assert r.status == 201
    r = await api.get("/v2/entities/H1", headers=SHOP)
    assert r.status == 200
    await declare(api)
    r = await api.get("/v2/entities/H1", headers=SHOP)
    assert r.status == 404


async def test_malformed_consents_are_400_and_store_nothing(api):
    bodies = [
        {"entityTypes": ["HealthRecord"], "purpose": "p"},
        {"recipient": "svc", "entityTypes": [], "purpose": "p"},
        {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": ""},
        {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": "p", "operations": ["delete"]},
        {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": "p", "expires": "tomorrow"},
        {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": "p", "expires": "2001-01-01T00:00:00Z"},
        {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": "p", "subject": "bob"},
        {"recipient": "sv'c", "entityTypes": ["HealthRecord"], "purpose": "p"},
    ]
    for body in bodies:
        r = await api.post("/personal/v1/consents", json=body, headers=ALICE)
        assert r.status == 400, body
        assert (await r.json())["error"] == "BadRequest"
    r = await api.post("/personal/v1/consents", data=b"[1]", headers={**ALICE, "Content-Type": "application/json"})
    assert r.status == 400
    r = await api.get("/personal/v1/consents?options=count", headers=ALICE)
    assert r.headers["Fiware-Total-Count"] == "0"


async def test_only_residents_grant_and_the_subject_is_the_token_sub(api):
    body = {"recipient": "svc-clinic", "entityTypes": ["HealthRecord"], "purpose": "p"}
    r = await api.post("/personal/v1/consents", json=body, headers=CLINIC)
    assert r.status == 403
    consent = await grant(api, ALICE, expires="2099-03-31T00:00:00.000Z")
    r = await api.get(f"/personal/v1/consents/{consent}", headers=ALICE)
    doc = await r.json()
    assert doc["subject"] == "alice" and doc["status"] == "active" and doc["expires"] == "2099-03-31T00:00:00.000Z"
    assert doc["operations"] == ["read"] and "attrs" not in doc and doc["createdAt"].endswith("Z")


async def test_consent_lists_depend_on_the_role(api):
    c1 = await grant(api, ALICE)
    c2 = await grant(api, BOB, recipient="svc-shop")
    ids = lambda r: [c["id"] for c in r]  # noqa: E731
    assert ids(await (await api.get("/personal/v1/consents", headers=ALICE)).json()) == [c1]
    assert ids(await (await api.get("/personal/v1/consents", headers=CLINIC)).json()) == [c1]
    assert ids(await (await api.get("/personal/v1/consents", headers=SHOP)).json()) == [c2]
    assert ids(await (await api.get("/personal/v1/consents?limit=1&offset=1", headers=OPERATOR)).json()) == [c2]
    r = await api.get(f"/personal/v1/consents/{c1}", headers=SHOP)
    assert r.status == 404


async def test_withdrawal_by_its_resident_or_an_operator_keeps_the_record(api):
    consent = await grant(api, ALICE)
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=CLINIC)
    assert r.status == 403
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=BOB)
    assert r.status == 404
    r = await api.delete(f"/personal/v1/consents/{consent}", headers=OPERATOR)
    assert r.status == 204
    doc = await (await api.get(f"/personal/v1/consents/{consent}", headers=ALICE)).json()
    assert doc["status"] == "withdrawn" and doc["withdrawnAt"].endswith("Z")


async def test_consents_do_not_cross_tenants(api):
    await declare(api, **{"Fiware-Service": "aizu"})
    await declare(api)
    r = await api.post(
        "/personal/v1/consents",
        headers={**ALICE, "Fiware-Service": "kumagaya"},
        json={"recipient": "svc-clinic", "entityTypes": ["HealthRecord"], "purpose": "p"},
    )
    assert r.status == 201
    await create_record(api, "HR-a", "alice", who={**bearer("alice", "resident"), "Fiware-Service": "aizu"})
    r = await api.get("/v2/entities", headers={**CLINIC, "Fiware-Service": "aizu"})
    assert await r.json() == []


async def test_receipt_verifies_offline_with_the_published_key(api):
    consent = await grant(api, ALICE, attrs=["steps"])
    r = await api.get(f"/personal/v1/consents/{consent}/receipt", headers=ALICE)
    assert r.status == 200
    receipt = (await r.json())["receipt"]
    keys = await (await api.get("/personal/v1/keys")).json()
    (jwk,) = keys["keys"]
    public = jwt.algorithms.ECAlgorithm.from_jwk(orjson.dumps(jwk).decode())
    claims = jwt.decode(receipt, public, algorithms=["ES256"])
    assert (claims["id"], claims["subject"], claims["recipient"], claims["attrs"]) == (
        consent,
        "alice",
        "svc-clinic",
        ["steps"],
    )
    forged = receipt[:-4] + ("AAAA" if not receipt.endswith("AAAA") else "BBBB")
    try:
        jwt.decode(forged, public, algorithms=["ES256"])
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a forged receipt verified")


async def test_expired_and_forged_tokens_and_wrong_secrets_are_401(api):
    for header in (
        bearer("alice", "resident", expires_in=-10),
        bearer("alice", "resident", secret="another-secret-of-at-least-32-bytes!"),
        {"Authorization": "Basic YWxpY2U6cHc="},
        {"Authorization": "Bearer " + jwt.encode({"roles": ["resident"]}, "x" * 32, algorithm="HS256")},
    ):
        r = await api.get("/personal/v1/consents", headers=header)
        assert r.status == 401, header
        assert (await r.json())["error"] == "Unauthorized"
        assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_export_holds_entities_consents_and_log_and_is_logged(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice", steps=10)
    await create_record(api, "HR-bob", "bob")
    consent = await grant(api, ALICE)
    await api.get("/v2/entities/HR-alice", headers=CLINIC)
    r = await api.get("/personal/v1/me/export", headers=ALICE)
    doc = await r.json()
    assert doc["subject"] == "alice"
    assert [e["id"] for e in doc["entities"]] == ["HR-alice"]
    assert doc["entities"][0]["steps"] == {"type": "Number", "value": 10, "metadata": {}}
    assert [c["id"] for c in doc["consents"]] == [consent]
    assert [x["channel"] for x in doc["accessLog"]] == ["query"]
    log = await (await api.get("/personal/v1/access-log", headers=ALICE)).json()
    assert [x["channel"] for x in log] == ["query", "export"]


async def test_erasure_deletes_data_withdraws_consents_and_keeps_the_log(api):
    await declare(api)
    await create_record(api, "HR-alice", "alice")
    await create_record(api, "HR-bob", "bob")
    consent = await grant(api, ALICE)
    await api.get("/v2/entities/HR-alice", headers=CLINIC)
    r = await api.delete("/personal/v1/me", headers=ALICE)
    assert r.status == 204
    r = await api.get("/v2/entities/HR-alice", headers=ALICE)
    assert r.status == 404
    r = await api.get("/v2/entities/HR-bob", headers=BOB)
    assert r.status == 200
    doc = await (await api.get(f"/personal/v1/consents/{consent}", headers=ALICE)).json()
    assert doc["status"] == "withdrawn"
    log = await (await api.get("/personal/v1/access-log", headers=OPERATOR)).json()
    assert [x["channel"] for x in log] == ["query", "erasure"]
    verdict = await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json()
    assert verdict == {"valid": True, "records": 2, "firstInvalid": None}


async def test_tampering_with_the_access_log_is_detected(api, tmp_path):
    await declare(api)
    for i in range(3):
        await create_record(api, f"HR-{i}", "alice")
    await grant(api, ALICE)
    await api.get("/v2/entities?type=HealthRecord", headers=CLINIC)
    assert (await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json())["valid"] is True
    db = sqlite3.connect(str(tmp_path / "broker.db"))
    ((last, first, doc),) = db.execute("SELECT last, first, doc FROM access_log_packs").fetchall()
    assert (first, last) == (1, 3)  # the answer's three disclosures, kept together

    async def verdict_after(sql: str, *args: object) -> dict:
        db.execute("UPDATE access_log_packs SET doc = " + sql + " WHERE last = ?", (*args, last))
        db.commit()
        found = await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json()
        db.execute("UPDATE access_log_packs SET doc = ? WHERE last = ?", (doc, last))  # as it was
        db.commit()
        return found

    assert await verdict_after("json_set(doc, '$.rows[1][0]', 'nobody')") == {
        "valid": False,
        "records": 3,
        "firstInvalid": 1,
    }
    assert await verdict_after(
        "json_set(doc, '$.rows[0]', json_extract(doc, '$.rows[1]'), '$.rows[1]', json_extract(doc, '$.rows[0]'))"
    ) == {"valid": False, "records": 3, "firstInvalid": 0}  # two records swapped
    assert await verdict_after("json_remove(doc, '$.rows[2]')") == {"valid": False, "records": 2, "firstInvalid": 2}
    assert await verdict_after("json_remove(doc, '$.rows[1]')") == {"valid": False, "records": 2, "firstInvalid": 1}
    assert (await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json())["valid"] is True
    db.close()


async def test_a_misfiled_access_log_row_is_caught_by_verification(api, tmp_path):
    """Columns a view filters on, outside the sealed records: altering them hides records from the
    recipient's or the subject's view, so verification must catch it too."""
    await declare(api)
    await create_record(api, "HR-1", "alice")
    await grant(api, ALICE)
    await api.get("/v2/entities?type=HealthRecord", headers=CLINIC)
    assert (await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json())["valid"] is True
    db = sqlite3.connect(str(tmp_path / "broker.db"))  # the disclosure is committed: verification flushed it

    async def verdict_after(sql: str, undo: str) -> dict:
        db.execute(sql)
        db.commit()
        found = await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json()
        db.execute(undo)
        db.commit()
        return found

    hidden = {"valid": False, "records": 1, "firstInvalid": 0}
    assert (
        await verdict_after(
            "UPDATE access_log_packs SET recipient = 'nobody'", "UPDATE access_log_packs SET recipient = 'svc-clinic'"
        )
        == hidden
    )
    log = await (await api.get("/personal/v1/access-log?recipient=svc-clinic", headers=OPERATOR)).json()
    assert len(log) == 1
    assert (
        await verdict_after(
            "UPDATE access_log_packs SET subjects = '[\"bob\"]'", "UPDATE access_log_packs SET subjects = '[\"alice\"]'"
        )
        == hidden
    )
    db.execute("INSERT OR IGNORE INTO access_log_segments(segment) VALUES(0)")  # as a fold leaves it
    db.execute(
        "INSERT INTO access_log_subjects(segment, tenant, subject, pack) SELECT 0, tenant, 'alice', last"
        " FROM access_log_packs"
    )
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('access_log_indexed', '1')")
    db.commit()
    assert (await (await api.get("/personal/v1/access-log/verify", headers=OPERATOR)).json())["valid"] is True
    assert (
        await verdict_after(
            "UPDATE access_log_subjects SET subject = 'bob'", "UPDATE access_log_subjects SET subject = 'alice'"
        )
        == hidden
    )
    assert len(await (await api.get("/personal/v1/access-log", headers=ALICE)).json()) == 1
    db.close()


async def test_statistics_suppress_small_cells_and_use_statistics_consents_only(api):
    await declare(api)
    districts = ["north"] * 4 + ["south"] * 3 + ["east"] * 1
    for i, d in enumerate(districts):
        resident = f"r{i}"
        await create_record(
            api, f"HR-{i}", resident, who=bearer(resident, "resident"), steps=1000 * (i + 1), district=d
        )
        who = bearer(resident, "resident")
        await grant(api, who, recipient="ana", operations=["statistics"])
    await create_record(api, "HR-x", "rx", who=bearer("rx", "resident"), district="east")  # no consent: not counted
    body = {"type": "HealthRecord", "groupBy": ["district"], "metrics": ["count", "avg:steps", "max:steps"]}
    r = await api.post("/personal/v1/statistics", json=body, headers=ANALYST)
    assert r.status == 200
    doc = await r.json()
    # k=3: east (1 subject) is suppressed; being the only one, the next smallest (south, 3) goes too
    assert doc == {
        "k": 3,
        "cells": [
            {"group": {"district": "north"}, "subjects": 4, "count": 4, "avg:steps": 2500, "max:steps": 4000},
        ],
        "suppressed": 2,
    }
    r = await api.post("/personal/v1/statistics", json=body, headers=CLINIC)
    assert r.status == 403
    r = await api.get("/v2/entities?type=HealthRecord", headers=ANALYST)
    assert await r.json() == []  # statistics consents never show entities


async def test_statistics_on_unconsented_attributes_see_them_absent(api):
    await declare(api)
    for i in range(3):
        who = bearer(f"r{i}", "resident")
        await create_record(api, f"HR-{i}", f"r{i}", who=who, district="north")
        await grant(api, who, recipient="ana", operations=["statistics"], attrs=["steps"])
    body = {"type": "HealthRecord", "groupBy": ["district"], "metrics": ["count", "avg:heartRate"]}
    doc = await (await api.post("/personal/v1/statistics", json=body, headers=ANALYST)).json()
    assert doc["cells"] == [{"group": {"district": None}, "subjects": 3, "count": 3, "avg:heartRate": None}]
    r = await api.post(
        "/personal/v1/statistics", json={"type": "HealthRecord", "metrics": ["median:steps"]}, headers=ANALYST
    )
    assert r.status == 400
