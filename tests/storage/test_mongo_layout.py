"""MongoDB only: what the backend writes is Orion's database layout, field for field.

Entities are written through the port and read back raw with PyMongo.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from broker.ngsi.model import Attribute, Entity, Location, Metadata
from broker.ngsi.selection import EntityFilter, Page
from broker.ngsi.subscription import SubscriptionStatus
from broker.storage.mongo import MongoStorage
from broker.storage.port import OutboxRecord
from tests.storage_conformance.test_outbox_and_subscriptions import SUB, _sub


@pytest.fixture
async def mongo(mongo_db: tuple[str, str]) -> AsyncIterator[MongoStorage]:
    uri, prefix = mongo_db
    store = MongoStorage(uri, db=prefix)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def _room() -> Entity:
    return Entity(
        id="Room1",
        type="Room",
        service_path="/house/floor1",
        attrs={
            "temp.max": Attribute("Number", 23.5, {"unit.code": Metadata("Text", "CEL")}, 100.5, 200.5),
            "seen": Attribute("DateTime", 1514764800.0, {}, 100.5, 100.5),
            "position": Attribute("geo:point", "40.4, -3.7", {}, 100.5, 100.5),
        },
        cre_date=100.5,
        mod_date=200.5,
        location=Location("position", {"type": "Point", "coordinates": [-3.7, 40.4]}),
    )


async def test_an_entity_is_stored_in_orions_layout(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    assert await mongo.insert_entity("", _room())
    (doc,) = list(raw[prefix]["entities"].find())
    assert list(doc["_id"].items()) == [("id", "Room1"), ("type", "Room"), ("servicePath", "/house/floor1")]
    assert doc["attrNames"] == ["temp.max", "seen", "position"]
    assert doc["attrs"] == {
        "temp=max": {
            "type": "Number",
            "value": 23.5,
            "md": {"unit=code": {"type": "Text", "value": "CEL"}},
            "mdNames": ["unit.code"],
            "creDate": 100.5,
            "modDate": 200.5,
        },
        "seen": {"type": "DateTime", "value": 1514764800.0, "mdNames": [], "creDate": 100.5, "modDate": 100.5},
        "position": {"type": "geo:point", "value": "40.4, -3.7", "mdNames": [], "creDate": 100.5, "modDate": 100.5},
    }
    assert (doc["creDate"], doc["modDate"]) == (100.5, 200.5)
    assert doc["location"] == {"attrName": "position", "coords": {"type": "Point", "coordinates": [-3.7, 40.4]}}
    ours = {k for k in doc if k.startswith("_ab_")}
    assert ours == {"_ab_version", "_ab_seq"}
    assert set(doc) - ours == {"_id", "attrNames", "attrs", "creDate", "modDate", "location"}


async def test_numbers_are_stored_as_doubles_and_the_last_correlator_is_kept(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    entity = Entity(
        "E1",
        "T",
        attrs={
            "n": Attribute("Number", 7, {"m": Metadata("Number", 2)}, 1.0, 1.0),
            "c": Attribute("StructuredValue", {"a": [1, 2.5, True, None, "x"]}, {}, 1.0, 1.0),
        },
        cre_date=1.0,
        mod_date=1.0,
        correlator="corr-1",
    )
    assert await mongo.insert_entity("", entity)
    doc = raw[prefix]["entities"].find_one()
    value, md, compound = doc["attrs"]["n"]["value"], doc["attrs"]["n"]["md"]["m"]["value"], doc["attrs"]["c"]["value"]
    assert (type(value), value, type(md)) == (float, 7.0, float)
    assert compound == {"a": [1.0, 2.5, True, None, "x"]} and type(compound["a"][0]) is float
    assert type(compound["a"][2]) is bool  # a boolean is not a number
    assert doc["lastCorrelator"] == "corr-1"
    (back,), _ = await mongo.query_entities("", EntityFilter(), Page())
    assert back.correlator == "corr-1" and back.attrs["n"].value == 7


async def test_each_tenant_has_its_own_database(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    assert await mongo.insert_entity("smartcity", Entity("E1", "T", cre_date=1.0, mod_date=1.0))
    assert raw[f"{prefix}-smartcity"]["entities"].count_documents({}) == 1
    assert raw[prefix]["entities"].count_documents({}) == 0


async def test_a_replace_without_location_removes_it(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    await mongo.insert_entity("", _room())
    (current,), _ = await mongo.query_entities("", EntityFilter(), Page())
    del current.attrs["position"]
    assert await mongo.replace_entity("", current)
    doc = raw[prefix]["entities"].find_one()
    assert "location" not in doc and doc["attrNames"] == ["temp.max", "seen"] and doc["_ab_version"] == 2


async def test_an_entity_orion_wrote_reads_and_updates_as_version_zero(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    raw[prefix]["entities"].insert_one(
        {
            "_id": {"id": "Old", "type": "T", "servicePath": "/"},
            "attrNames": ["a.b"],
            "attrs": {"a=b": {"type": "Number", "value": 1, "mdNames": [], "creDate": 5.0, "modDate": 5.0}},
            "creDate": 5.0,
            "modDate": 5.0,
            "lastCorrelator": "c-1",
        }
    )
    (old,), _ = await mongo.query_entities("", EntityFilter(ids=("Old",)), Page())
    assert old.version == 0 and old.attrs["a.b"].value == 1
    old.attrs["a.b"].value = 2
    assert await mongo.replace_entity("", old)
    doc = raw[prefix]["entities"].find_one()
    assert doc["attrs"]["a=b"]["value"] == 2 and doc["lastCorrelator"] == "c-1" and doc["_ab_version"] == 1


async def test_a_subscription_is_stored_in_csubs_as_orion_reads_it(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    await mongo.save_subscription(_sub(expires=1800000000.0, throttling=5))
    await mongo.save_delivery(
        "t",
        SUB,
        SubscriptionStatus(
            times_sent=2,
            last_notification=1700000001.9,
            last_success=1700000001.9,
            last_success_code=200,
            fails_counter=0,
        ),
    )
    doc = raw[f"{prefix}-t"]["csubs"].find_one()
    from bson import ObjectId

    assert doc["_id"] == ObjectId(SUB)
    expected = {
        "expiration": 1800000000,
        "reference": "http://localhost:9/notify",
        "custom": False,
        "timeout": 0,
        "throttling": 5,
        "maxFailsLimit": -1,
        "servicePath": "/#",
        "status": "active",
        "entities": [{"id": ".*", "isPattern": "true", "type": "Room", "isTypePattern": False}],
        "attrs": ["temp"],
        "blacklist": False,
        "metadata": [],
        "conditions": ["temp"],
        "expression": {"q": "temp>20", "mq": "", "geometry": "", "coords": "", "georel": ""},
        "altTypes": [],
        "onlyChanged": False,
        "covered": False,
        "notifyOnMetadataChange": True,
        "format": "normalized",
        "description": "rooms",
        "count": 2,
        "lastNotification": 1700000001,
        "lastSuccess": 1700000001,
        "lastSuccessCode": 200,
        "failsCounter": 0,
    }
    assert {k: doc[k] for k in expected} == expected
    assert isinstance(doc["statusLastChange"], float) and abs(doc["statusLastChange"] - time.time()) < 60
    assert set(doc) - set(expected) == {"_id", "statusLastChange", "_ab_doc", "_ab_delivery", "_ab_seq"}


async def test_notifications_owed_live_in_a_prefixed_collection(mongo: MongoStorage, raw, mongo_db):
    _, prefix = mongo_db
    record = OutboxRecord("t", SUB, {"n": 1}, created=1.0, due=2.0, cbnotif=3)
    await mongo.insert_entity("t", Entity("E1", "T", cre_date=1.0, mod_date=1.0), [record])
    (doc,) = list(raw[prefix]["ab_outbox"].find())
    assert (doc["tenant"], doc["sub"], doc["due"], doc["attempts"], doc["cbnotif"]) == ("t", SUB, 2.0, 0, 3)
    assert "ab_outbox" not in raw[f"{prefix}-t"].list_collection_names()


async def test_a_transient_entity_has_orions_exp_date_and_loses_it_with_its_expiry(mongo: MongoStorage, raw, mongo_db):
    import datetime

    _, prefix = mongo_db
    entity = Entity(
        "T1", "Ticket", attrs={"dateExpires": Attribute("DateTime", 1830000000.5)}, cre_date=1.0, mod_date=1.0
    )
    assert await mongo.insert_entity("", entity)
    doc = raw[prefix]["entities"].find_one()
    assert doc["expDate"] == datetime.datetime(2027, 12, 28, 13, 20, 0, 500000)  # a BSON date, UTC
    assert doc["attrs"]["dateExpires"]["value"] == 1830000000.5  # and the attribute, as Orion keeps it
    (stored,), _ = await mongo.query_entities("", EntityFilter(), Page())
    del stored.attrs["dateExpires"]
    assert await mongo.replace_entity("", stored)
    assert "expDate" not in raw[prefix]["entities"].find_one()
