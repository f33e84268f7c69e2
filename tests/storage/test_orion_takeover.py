"""MongoDB only: a database Orion wrote is served as Orion serves it, and what we write is Orion's layout.

The documents of `orion_documents` are inserted raw with PyMongo; the broker (the whole app, on
`MongoStorage`) then answers the NGSI-v2 API from them, notifies through the subscriptions
Orion created, and writes back documents Orion can read. The reverse direction: the same
entities and subscriptions created through our API are stored field for field like Orion's.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import bson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.runtime.app import build_app
from broker.storage.mongo import MongoStorage, registrations
from tests.receivers import Receiver
from tests.storage_conformance import orion_documents as orion

COUNTERS = (
    "timesSent",
    "lastNotification",
    "lastSuccess",
    "lastSuccessCode",
    "lastFailure",
    "lastFailureReason",
    "failsCounter",
)
RAW_COUNTERS = (
    "count",
    "lastNotification",
    "lastSuccess",
    "lastSuccessCode",
    "lastFailure",
    "lastFailureReason",
    "failsCounter",
)


@pytest.fixture
def orion_database(raw, mongo_db, receiver):
    """The database as Orion left it: entities in two tenants, subscriptions of every kind."""
    _, prefix = mongo_db
    raw[prefix]["entities"].insert_one(copy.deepcopy(orion.ROOM))
    raw[f"{prefix}-city"]["entities"].insert_one(copy.deepcopy(orion.PARK))
    pairs = orion.subscriptions(_base(receiver))
    raw[prefix]["csubs"].insert_many([copy.deepcopy(doc) for doc, _ in pairs] + [copy.deepcopy(orion.LEGACY)])
    return pairs


def _base(receiver: Receiver) -> str:
    """The receiver's address without a path: Orion's subscriptions add theirs."""
    return receiver.url_for("").rstrip("/")


async def _broker(mongo_db: tuple[str, str]) -> TestClient:
    uri, prefix = mongo_db
    app = build_app(MongoStorage(uri, db=prefix), shared_delivery=True)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def api(mongo_db, orion_database) -> AsyncIterator[TestClient]:
    client = await _broker(mongo_db)
    try:
        yield client
    finally:
        await client.close()


async def _json(api: TestClient, path: str, **headers: str) -> Any:
    r = await api.get(path, headers=headers)
    assert r.status == 200, (path, r.status, await r.text())
    return await r.json()


async def test_entities_orion_wrote_are_served_as_orion_renders_them(api: TestClient) -> None:
    assert await _json(api, "/v2/entities/Room1") == orion.ROOM_RENDERED
    # Orion's order: ContextAttributeVector::fill walks a std::set of the stored names ('.' stored as '=')
    assert list(await _json(api, "/v2/entities/Room1/attrs")) == sorted(
        orion.ROOM["attrNames"], key=lambda n: n.replace(".", "=")
    )
    dated = await _json(api, "/v2/entities/Room1?attrs=dateCreated,dateModified&options=keyValues")
    assert dated == {
        "id": "Room1",
        "type": "Room",
        "dateCreated": "2023-11-14T22:13:20.250Z",
        "dateModified": "2023-11-14T22:15:00.500Z",
    }
    r = await api.get("/v2/entities/Room1/attrs/temp.max/value", headers={"Accept": "text/plain"})
    assert (r.status, await r.text()) == (200, "30.5")
    for q in (
        "temperature>20",
        "temperature==23",
        "seen>2017-12-31T00:00:00Z",
        "config.limits.max==28",
        "'temp.max'>30",
        "position",
    ):
        found = await _json(api, f"/v2/entities?q={q}&options=keyValues&attrs=temperature")
        assert found == [{"id": "Room1", "type": "Room", "temperature": 23}], q
    assert await _json(api, "/v2/entities?q=temperature<20") == []
    assert await _json(api, "/v2/entities?mq=temperature.'unit.code'==CEL&attrs=none") == [
        {"id": "Room1", "type": "Room"}
    ]
    assert await _json(api, "/v2/entities?mq=temperature.unit.code==CEL&attrs=none") == []  # `unit`, then `code` in it
    types = await _json(api, "/v2/types/Room")
    assert types["count"] == 1 and types["attrs"]["temperature"] == {"types": ["Number"]}


async def test_each_tenant_and_service_path_orion_wrote_is_its_own(api: TestClient) -> None:
    park = await _json(api, "/v2/entities?options=keyValues", **{"Fiware-Service": "city"})
    assert park == [
        {"id": "Park1", "type": "Park", "area": {"type": "Point", "coordinates": [139.7, 35.68]}, "visitors": 120}
    ]
    scoped = {"Fiware-Service": "city", "Fiware-ServicePath": "/parks"}
    assert [e["id"] for e in await _json(api, "/v2/entities", **scoped)] == ["Park1"]
    assert await _json(api, "/v2/entities", **{"Fiware-Service": "city", "Fiware-ServicePath": "/streets"}) == []
    assert [e["id"] for e in await _json(api, "/v2/entities")] == ["Room1"]


async def test_an_update_leaves_a_document_orion_can_read(api: TestClient, raw, mongo_db) -> None:
    _, prefix = mongo_db
    r = await api.patch(
        "/v2/entities/Room1/attrs",
        json={"temperature": {"value": 24, "type": "Number"}},
        headers={"Fiware-Correlator": "takeover-1"},
    )
    assert r.status == 204, await r.text()
    doc = raw[prefix]["entities"].find_one()
    assert doc["_id"] == orion.ROOM["_id"] and doc["attrNames"] == orion.ROOM["attrNames"]
    temperature = doc["attrs"]["temperature"]
    assert type(temperature["value"]) is float and temperature["value"] == 24.0
    assert temperature["md"] == orion.ROOM["attrs"]["temperature"]["md"]  # metadata kept, as Orion does
    assert temperature["creDate"] == 1700000000.25 and temperature["modDate"] > 1700000100.5
    assert doc["attrs"]["seen"] == orion.ROOM["attrs"]["seen"]  # untouched attributes byte for byte
    assert doc["lastCorrelator"] == "takeover-1" and doc["location"] == orion.ROOM["location"]
    assert doc["creDate"] == orion.ROOM["creDate"] and doc["modDate"] > orion.ROOM["modDate"]


async def test_subscriptions_orion_wrote_render_as_the_same_ones_created_through_the_api(
    api: TestClient, orion_database
) -> None:
    listed = await _json(api, "/v2/subscriptions?limit=100")
    by_id = {s["id"]: s for s in listed}
    assert set(by_id) == {str(doc["_id"]) for doc, _ in orion_database} | {str(orion.LEGACY["_id"])}
    for doc, body in orion_database + [(orion.LEGACY, orion.LEGACY_BODY)]:
        theirs = by_id[str(doc["_id"])]
        r = await api.post("/v2/subscriptions", json=body)
        assert r.status == 201, (body, await r.text())
        ours = await _json(api, r.headers["Location"])
        for sub in (theirs, ours):
            sub.pop("id")
            for counter in COUNTERS:
                sub["notification"].pop(counter, None)
        assert theirs == ours, doc["_id"]


async def test_counters_and_statuses_orion_wrote_are_shown(api: TestClient) -> None:
    warm = await _json(api, "/v2/subscriptions/5f1a2b3c4d5e6f7a8b9c0d01")
    assert warm["notification"]["timesSent"] == 27
    assert warm["notification"]["lastNotification"] == "2023-11-14T22:14:10.000Z"
    assert warm["notification"]["lastSuccess"] == "2023-11-14T22:14:10.000Z"
    assert warm["notification"]["lastSuccessCode"] == 200
    assert warm["expires"] == "2100-01-01T00:00:00.000Z" and warm["status"] == "active"
    custom = await _json(api, "/v2/subscriptions/5f1a2b3c4d5e6f7a8b9c0d02")
    assert custom["notification"]["lastFailureReason"] == "Couldn't connect to server"
    assert custom["notification"]["failsCounter"] == 1 and "expires" not in custom  # Long max: permanent
    assert (await _json(api, "/v2/subscriptions/5f1a2b3c4d5e6f7a8b9c0d03"))["status"] == "inactive"
    assert (await _json(api, "/v2/subscriptions/5f1a2b3c4d5e6f7a8b9c0d04"))["status"] == "expired"
    legacy = await _json(api, "/v2/subscriptions/5149fd46f0075f83a4ca0300")
    assert "expires" not in legacy and legacy["notification"]["lastNotification"] == "2013-02-07T10:25:00.000Z"


async def test_subscriptions_orion_wrote_notify(api: TestClient, receiver: Receiver) -> None:
    r = await api.patch("/v2/entities/Room1/attrs", json={"temperature": {"value": 25, "type": "Number"}})
    assert r.status == 204
    got = await receiver.on_path("/notify")
    assert got.method == "POST"
    note = got.json()
    assert note["subscriptionId"] == "5f1a2b3c4d5e6f7a8b9c0d01"
    assert note["data"] == [
        {
            "id": "Room1",
            "type": "Room",
            "temperature": {"type": "Number", "value": 25, "metadata": {"unit.code": {"type": "Text", "value": "CEL"}}},
        }
    ]
    got = await receiver.on_path("/custom")
    assert (got.method, got.query, got.headers.get("X-City", ""), got.body) == (
        "PUT",
        {"entity": "Room1"},
        "",
        b"temperature is 25",
    )
    assert (await receiver.on_path("/json")).json() == {"t": 25, "list": [1, "Room1"]}
    copied = (await receiver.on_path("/ngsi")).json()["data"][0]
    assert (copied["id"], copied["type"], copied["t"]["value"]) == ("Room1-copy", "Copy", 25)


async def test_what_the_api_creates_is_stored_as_orion_stores_it(mongo_db, raw, receiver) -> None:
    """The reverse direction: Orion's fields, field for field, for entities and subscriptions we create."""
    _, prefix = mongo_db
    api = await _broker(mongo_db)
    try:
        body = {
            "id": "Room1",
            "type": "Room",
            **{k: {kk: vv for kk, vv in v.items()} for k, v in orion.ROOM_RENDERED.items() if k not in ("id", "type")},
        }
        r = await api.post("/v2/entities", json=body, headers={"Fiware-Correlator": "created-1"})
        assert r.status == 201, await r.text()
        doc = raw[prefix]["entities"].find_one()
        assert list(doc["attrs"]["temperature"]) == ["type", "value", "md", "mdNames", "creDate", "modDate"]
        mine = {k: v for k, v in doc.items() if not k.startswith("_ab_")}
        theirs = copy.deepcopy(orion.ROOM)
        theirs["lastCorrelator"] = "created-1"
        for d in (mine, theirs):  # the times are the broker's own
            d.pop("creDate"), d.pop("modDate")
            for attr in d["attrs"].values():
                attr.pop("creDate"), attr.pop("modDate")
        assert mine == theirs
        for expected, sub_body in orion.subscriptions(_base(receiver)):
            r = await api.post("/v2/subscriptions", json=sub_body)
            assert r.status == 201, await r.text()
            sub_id = r.headers["Location"].rsplit("/", 1)[1]
            stored = raw[prefix]["csubs"].find_one({"_id": bson.ObjectId(sub_id)})
            mine = {k: v for k, v in stored.items() if not k.startswith("_ab_")}
            theirs = dict(expected)
            for d in (mine, theirs):
                for key in ("_id", "statusLastChange", *RAW_COUNTERS):
                    d.pop(key, None)
            assert mine == theirs, expected["_id"]
            assert isinstance(stored["statusLastChange"], float)
    finally:
        await api.close()


async def test_a_stored_subscription_the_broker_cannot_parse_is_logged_and_skipped(mongo_db, raw, caplog) -> None:
    _, prefix = mongo_db
    bad = copy.deepcopy(orion.LEGACY)
    bad["expression"] = {"q": "temperature>>", "mq": "", "geometry": "", "coords": "", "georel": ""}
    good = copy.deepcopy(orion.LEGACY)
    good["_id"] = bson.ObjectId("5149fd46f0075f83a4ca0301")
    raw[prefix]["csubs"].insert_many([bad, good])
    api = await _broker(mongo_db)
    try:
        listed = await _json(api, "/v2/subscriptions")
        assert [s["id"] for s in listed] == ["5149fd46f0075f83a4ca0301"]
    finally:
        await api.close()
    (record,) = [r for r in caplog.records if r.getMessage() == "stored subscription not loaded"]
    assert record.levelname == "ERROR"
    assert record.fields["subscription"] == "5149fd46f0075f83a4ca0300" and record.fields["tenant"] == ""  # type: ignore[attr-defined]


@pytest.fixture
def orion_registrations(raw, mongo_db):
    _, prefix = mongo_db
    raw[prefix]["registrations"].insert_many([copy.deepcopy(doc) for doc, _ in orion.REGISTRATIONS])


async def test_registrations_orion_wrote_are_served_as_orion_renders_them(mongo_db, orion_registrations) -> None:
    api = await _broker(mongo_db)
    try:
        listed = await _json(api, "/v2/registrations?options=count")
        # Orion lists by _id; so do we for documents Orion wrote
        assert [r["id"] for r in listed] == sorted(str(doc["_id"]) for doc, _ in orion.REGISTRATIONS)
        for reg_id, rendered in orion.REGISTRATIONS_RENDERED.items():
            assert await _json(api, f"/v2/registrations/{reg_id}") == rendered
        legacy = await _json(api, "/v2/registrations/62aa3d3ac734067e6f0d0873")
        assert legacy["provider"]["legacyForwarding"] is True and legacy["status"] == "inactive"
        assert [r["id"] for r in await _json(api, "/v2/registrations", **{"Fiware-ServicePath": "/parks"})] == [
            "62aa3d3ac734067e6f0d0872"
        ]
        r = await api.delete("/v2/registrations/61556a428015fb36194d4f2e")
        assert r.status == 204
        assert len(await _json(api, "/v2/registrations")) == 3
    finally:
        await api.close()


async def test_registrations_created_through_the_api_are_stored_as_orion_stores_them(mongo_db, raw) -> None:
    _, prefix = mongo_db
    api = await _broker(mongo_db)
    try:
        for expected, body in orion.REGISTRATIONS:
            headers = {}
            if body is None:  # the one of Orion <= 4.2: we write isPattern as 4.3+ does, a boolean
                body = {
                    "dataProvided": {"entities": [{"idPattern": ".*"}]},
                    "provider": {"http": {"url": "https://weather.example/v2"}, "supportedForwardingMode": "query"},
                    "expires": "2038-01-01T00:00:00Z",
                }
                headers = {"Fiware-ServicePath": "/parks"}
                expected = copy.deepcopy(expected)
                expected["contextRegistration"][0]["entities"][0]["isPattern"] = True
            r = await api.post("/v2/registrations", json=body, headers=headers)
            assert r.status == 201, await r.text()
            reg_id = r.headers["Location"].rsplit("/", 1)[1]
            stored = raw[prefix]["registrations"].find_one({"_id": bson.ObjectId(reg_id)})
            mine = {k: v for k, v in stored.items() if k not in ("_id", "_ab_seq")}
            theirs = {k: v for k, v in expected.items() if k != "_id"}
            assert mine == theirs and list(mine) == list(theirs), expected["_id"]  # fields and their order
    finally:
        await api.close()


async def test_what_orion_changed_in_our_subscriptions_since_is_taken_over_too(mongo_db, raw) -> None:
    """Orion, run on the database after us, updates its own fields in place (status after
    maxFailsLimit, counters) and leaves ours alone: its newer values win."""
    _, prefix = mongo_db
    api = await _broker(mongo_db)
    try:
        r = await api.post("/v2/subscriptions", json=orion.LEGACY_BODY)
        sub_id = r.headers["Location"].rsplit("/", 1)[1]
    finally:
        await api.close()
    stored = raw[prefix]["csubs"].find_one({"_id": bson.ObjectId(sub_id)})
    assert type(stored["expiration"]) is bson.Int64  # NumberLong, as Orion writes it
    raw[prefix]["csubs"].update_one(
        {"_id": stored["_id"]},
        {
            "$set": {
                "status": "inactive",
                "count": 7,
                "failsCounter": 3,
                "lastNotification": 1700000100,
                "lastFailure": 1700000100,
                "lastFailureReason": "Timeout was reached",
            }
        },
    )
    api = await _broker(mongo_db)
    try:
        sub = await _json(api, f"/v2/subscriptions/{sub_id}")
    finally:
        await api.close()
    assert sub["status"] == "inactive"
    assert (sub["notification"]["timesSent"], sub["notification"]["failsCounter"]) == (7, 3)
    assert sub["notification"]["lastFailureReason"] == "Timeout was reached"


async def test_registrations_orion_wrote_have_no_owner_and_zero_forwarding_counters(
    mongo_db, raw, orion_registrations
) -> None:
    uri, prefix = mongo_db
    store = MongoStorage(uri, db=prefix)
    await store.start()
    try:
        for doc, _ in orion.REGISTRATIONS:
            reg = await store.get_registration("", str(doc["_id"]))
            assert reg is not None
            assert (reg.owner, reg.owner_roles, reg.times_sent) == (None, (), 0)
            assert (reg.last_forwarding, reg.last_success, reg.last_failure) == (None, None, None)
    finally:
        await store.close()


async def test_forwarding_counters_go_to_fields_of_their_own_leaving_orions_as_they_were(
    mongo_db, raw, orion_registrations
) -> None:
    uri, prefix = mongo_db
    doc = orion.REGISTRATIONS[0][0]
    store = MongoStorage(uri, db=prefix)
    await store.start()
    try:
        await store.record_forwarding("", str(doc["_id"]), ok=True, at=1700000000.5)
        await store.record_forwarding("", str(doc["_id"]), ok=False, at=1700000001.25)
    finally:
        await store.close()
    stored = raw[prefix]["registrations"].find_one({"_id": doc["_id"]})
    assert {k: v for k, v in stored.items() if not k.startswith("_ab_")} == doc  # Orion's fields untouched
    assert {k: v for k, v in stored.items() if k.startswith("_ab_")} == {
        "_ab_timesSent": 2,
        "_ab_lastForwarding": 1700000001.25,
        "_ab_lastSuccess": 1700000000.5,
        "_ab_lastFailure": 1700000001.25,
    }


async def test_the_creator_of_a_registration_is_stored_beside_orions_fields(mongo_db, raw) -> None:
    uri, prefix = mongo_db
    store = MongoStorage(uri, db=prefix)
    await store.start()
    try:
        reg = registrations.from_orion(copy.deepcopy(orion.REGISTRATIONS[0][0]), "")
        reg.owner, reg.owner_roles = "alice", ("doctor",)
        await store.save_registration(reg)
        assert await store.get_registration("", reg.id) == reg
    finally:
        await store.close()
    stored = raw[prefix]["registrations"].find_one({"_id": orion.REGISTRATIONS[0][0]["_id"]})
    assert stored["_ab_owner"] == "alice" and stored["_ab_ownerRoles"] == ["doctor"]
    assert "_ab_timesSent" not in stored  # no counters until something was forwarded


async def test_a_patched_registration_stays_in_orions_layout(mongo_db, raw, orion_registrations) -> None:
    """PATCH (ours) writes Orion's own fields in place: Orion reading the database sees the change."""
    _, prefix = mongo_db
    doc = orion.REGISTRATIONS[0][0]
    api = await _broker(mongo_db)
    try:
        r = await api.patch(
            f"/v2/registrations/{doc['_id']}",
            json={
                "description": "",
                "provider": {"http": {"url": "http://moved.example/v2"}, "legacyForwarding": True},
                "expires": "2040-01-01T00:00:00Z",
                "status": "inactive",
            },
        )
        assert r.status == 204, await r.text()
    finally:
        await api.close()
    stored = raw[prefix]["registrations"].find_one({"_id": doc["_id"]})
    expected = copy.deepcopy(doc)
    del expected["description"]
    expected["contextRegistration"][0]["providingApplication"] = "http://moved.example/v2"
    expected.update(expiration=2208988800, status="inactive", fwdMode="all", format="JSON")
    assert stored == expected
    assert type(stored["expiration"]) is bson.Int64
