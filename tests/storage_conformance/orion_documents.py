"""Documents as Orion 4.x writes them (doc/manuals/admin/database_model.md, mongoBackend/dbConstants.h).

Loaded raw into a database to check that the broker takes it over: entities with metadata,
compound values, DateTime attributes and metadata (epoch numbers), geo:point and geo:json
locations, dotted names (stored with `=`), every number a double; subscriptions (`csubs`) with
`http`, `httpCustom` (text, `json` and `ngsi` payloads), `mqtt`, expressions, throttling,
expirations, counters, and one written by a pre-1.0 Orion. `SUBSCRIPTIONS` pairs each document with
the request that creates the same subscription through our API.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

LONG_MAX = 9223372036854775807

ROOM: dict[str, Any] = {
    "_id": {"id": "Room1", "type": "Room", "servicePath": "/"},
    "attrNames": ["temperature", "temp.max", "seen", "position", "config"],
    "attrs": {
        "temperature": {
            "type": "Number",
            "value": 23.0,
            "md": {"unit=code": {"type": "Text", "value": "CEL"}},
            "mdNames": ["unit.code"],
            "creDate": 1700000000.25,
            "modDate": 1700000100.5,
        },
        "temp=max": {
            "type": "Number",
            "value": 30.5,
            "mdNames": [],
            "creDate": 1700000000.25,
            "modDate": 1700000000.25,
        },
        "seen": {
            "type": "DateTime",
            "value": 1514764800.0,
            "md": {"checked": {"type": "DateTime", "value": 1514764800.5}},
            "mdNames": ["checked"],
            "creDate": 1700000000.25,
            "modDate": 1700000000.25,
        },
        "position": {
            "type": "geo:point",
            "value": "40.418889, -3.691944",
            "mdNames": [],
            "creDate": 1700000000.25,
            "modDate": 1700000000.25,
        },
        "config": {
            "type": "StructuredValue",
            "value": {"modes": ["eco", "boost"], "limits": {"min": 5.0, "max": 28.0}, "on": True, "none": None},
            "mdNames": [],
            "creDate": 1700000000.25,
            "modDate": 1700000000.25,
        },
    },
    "creDate": 1700000000.25,
    "modDate": 1700000100.5,
    "location": {"attrName": "position", "coords": {"type": "Point", "coordinates": [-3.691944, 40.418889]}},
    "lastCorrelator": "6b0e5c1e-1111-4a3e-9d7c-0123456789ab",
}

# Orion's answer to GET /v2/entities/Room1 (doubles rendered without `.0`, dates in ISO 8601)
ROOM_RENDERED: dict[str, Any] = {
    "id": "Room1",
    "type": "Room",
    "temperature": {"type": "Number", "value": 23, "metadata": {"unit.code": {"type": "Text", "value": "CEL"}}},
    "temp.max": {"type": "Number", "value": 30.5, "metadata": {}},
    "seen": {
        "type": "DateTime",
        "value": "2018-01-01T00:00:00.000Z",
        "metadata": {"checked": {"type": "DateTime", "value": "2018-01-01T00:00:00.500Z"}},
    },
    "position": {"type": "geo:point", "value": "40.418889, -3.691944", "metadata": {}},
    "config": {
        "type": "StructuredValue",
        "value": {"modes": ["eco", "boost"], "limits": {"min": 5, "max": 28}, "on": True, "none": None},
        "metadata": {},
    },
}

# tenant "city", service path /parks; FerretDB stores no nested arrays, so a Point
PARK: dict[str, Any] = {
    "_id": {"id": "Park1", "type": "Park", "servicePath": "/parks"},
    "attrNames": ["area", "visitors"],
    "attrs": {
        "area": {
            "type": "geo:json",
            "value": {"type": "Point", "coordinates": [139.7, 35.68]},
            "mdNames": [],
            "creDate": 1700000000.0,
            "modDate": 1700000000.0,
        },
        "visitors": {"type": "Number", "value": 120.0, "mdNames": [], "creDate": 1700000000.0, "modDate": 1700000000.0},
    },
    "creDate": 1700000000.0,
    "modDate": 1700000000.0,
    "location": {"attrName": "area", "coords": {"type": "Point", "coordinates": [139.7, 35.68]}},
    "lastCorrelator": "6b0e5c1e-2222-4a3e-9d7c-0123456789ab",
}


def _csub(oid: str, **fields: Any) -> dict[str, Any]:
    """The fields every NGSI-v2 subscription of Orion 4.x has, then `fields`."""
    doc: dict[str, Any] = {
        "_id": ObjectId(oid),
        "expiration": LONG_MAX,
        "throttling": 0,
        "maxFailsLimit": -1,
        "servicePath": "/#",  # created without Fiware-ServicePath
        "status": "active",
        "statusLastChange": 1700000000.0,
        "entities": [{"id": "Room1", "isPattern": "false", "type": "Room", "isTypePattern": False}],
        "attrs": [],
        "metadata": [],
        "blacklist": False,
        "onlyChanged": False,
        "covered": False,
        "notifyOnMetadataChange": True,
        "conditions": [],
        "altTypes": [],
        "expression": {"q": "", "mq": "", "geometry": "", "coords": "", "georel": ""},
        "format": "normalized",
    }
    doc.update(fields)
    return doc


def subscriptions(receiver: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(csubs document, the POST /v2/subscriptions body of the same subscription); `receiver` an http base URL."""
    http = {"reference": f"{receiver}/notify", "custom": False, "timeout": 0}
    return [
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d01",
                **http,
                description="warm rooms",
                expiration=4102444800,
                entities=[{"id": "Room.*", "isPattern": "true", "type": "Room", "isTypePattern": False}],
                attrs=["temperature"],
                conditions=["temperature"],
                expression={"q": "temperature>20", "mq": "", "geometry": "", "coords": "", "georel": ""},
                count=27,
                lastNotification=1700000050,
                lastSuccess=1700000050,
                lastSuccessCode=200,
                failsCounter=0,
            ),
            {
                "description": "warm rooms",
                "subject": {
                    "entities": [{"idPattern": "Room.*", "type": "Room"}],
                    "condition": {"attrs": ["temperature"], "expression": {"q": "temperature>20"}},
                },
                "notification": {"http": {"url": f"{receiver}/notify"}, "attrs": ["temperature"]},
                "expires": "2100-01-01T00:00:00.000Z",
            },
        ),
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d02",
                reference=f"{receiver}/custom",
                custom=True,
                timeout=0,
                method="PUT",
                headers={"X-City": "${service}"},
                qs={"entity": "${id}"},
                payload="temperature is ${temperature}",
                throttling=5,
                attrs=["config"],
                blacklist=True,
                altTypes=["entityUpdate", "entityCreate"],
                format="keyValues",
                count=3,
                lastNotification=1700000060,
                lastFailure=1700000060,
                lastFailureReason="Couldn't connect to server",
                failsCounter=1,
            ),
            {
                "subject": {
                    "entities": [{"id": "Room1", "type": "Room"}],
                    "condition": {"alterationTypes": ["entityUpdate", "entityCreate"]},
                },
                "notification": {
                    "httpCustom": {
                        "url": f"{receiver}/custom",
                        "method": "PUT",
                        "headers": {"X-City": "${service}"},
                        "qs": {"entity": "${id}"},
                        "payload": "temperature is ${temperature}",
                    },
                    "exceptAttrs": ["config"],
                    "attrsFormat": "keyValues",
                },
                "throttling": 5,
            },
        ),
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d03",
                reference="mqtt://127.0.0.1:1883",
                topic="rooms/temperature",
                qos=1,
                retain=False,
                custom=False,
                user="city",
                passwd="secret",
                status="inactive",
                onlyChanged=True,
                metadata=["unit.code"],
                format="simplifiedKeyValues",
            ),
            {
                "subject": {"entities": [{"id": "Room1", "type": "Room"}]},
                "notification": {
                    "mqtt": {
                        "url": "mqtt://127.0.0.1:1883",
                        "topic": "rooms/temperature",
                        "qos": 1,
                        "user": "city",
                        "passwd": "secret",
                    },
                    "onlyChangedAttrs": True,
                    "metadata": ["unit.code"],
                    "attrsFormat": "simplifiedKeyValues",
                },
                "status": "inactive",
            },
        ),
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d04",
                **http,
                expiration=1600000000,
                entities=[{"id": ".*", "isPattern": "true", "type": "Room.*", "isTypePattern": True}],
                maxFailsLimit=3,
                covered=True,
                attrs=["temperature", "humidity"],
            ),
            {
                "subject": {"entities": [{"idPattern": ".*", "typePattern": "Room.*"}]},
                "notification": {
                    "http": {"url": f"{receiver}/notify"},
                    "attrs": ["temperature", "humidity"],
                    "covered": True,
                    "maxFailsLimit": 3,
                },
                "expires": "2020-09-13T12:26:40.000Z",
            },
        ),
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d05",
                reference=f"{receiver}/json",
                custom=True,
                timeout=2000,
                json={"t": "${temperature}", "list": [1.0, "${id}"]},
                notifyOnMetadataChange=False,
                expression={"q": "", "mq": "temperature.'unit.code'==CEL", "geometry": "", "coords": "", "georel": ""},
            ),
            {
                "subject": {
                    "entities": [{"id": "Room1", "type": "Room"}],
                    "condition": {
                        "expression": {"mq": "temperature.'unit.code'==CEL"},
                        "notifyOnMetadataChange": False,
                    },
                },
                "notification": {
                    "httpCustom": {
                        "url": f"{receiver}/json",
                        "timeout": 2000,
                        "json": {"t": "${temperature}", "list": [1, "${id}"]},
                    },
                },
            },
        ),
        (
            _csub(
                "5f1a2b3c4d5e6f7a8b9c0d06",
                reference=f"{receiver}/ngsi",
                custom=True,
                timeout=0,
                ngsi={
                    "id": "${id}-copy",
                    "type": "Copy",
                    "attrs": {"t": {"type": "Number", "value": "${temperature}", "mdNames": []}},
                },
            ),
            {
                "subject": {"entities": [{"id": "Room1", "type": "Room"}]},
                "notification": {
                    "httpCustom": {
                        "url": f"{receiver}/ngsi",
                        "ngsi": {
                            "id": "${id}-copy",
                            "type": "Copy",
                            "t": {"type": "Number", "value": "${temperature}"},
                        },
                    },
                },
            },
        ),
    ]


# written by Orion 0.x (doc/manuals/admin/database_model.md's example): ONCHANGE conditions,
# `isPattern` only, `format` "JSON", expiration -1 for permanent in NGSI-v2's early days
LEGACY: dict[str, Any] = {
    "_id": ObjectId("5149fd46f0075f83a4ca0300"),
    "expiration": -1,
    "lastNotification": 1360232700,
    "throttling": 10,
    "reference": "http://notify.me",
    "entities": [{"id": "E1", "type": "T1", "isPattern": "false"}],
    "attrs": ["A1", "A2"],
    "conditions": [{"type": "ONCHANGE", "value": ["A1", "A2"]}],
    "count": 27,
    "format": "JSON",
}

LEGACY_BODY: dict[str, Any] = {
    "subject": {"entities": [{"id": "E1", "type": "T1"}], "condition": {"attrs": ["A1", "A2"]}},
    "notification": {"http": {"url": "http://notify.me"}, "attrs": ["A1", "A2"]},
    "throttling": 10,
}


# `registrations` as Orion writes them: 4.3+ (boolean isPattern), up to 4.2 (the text "true"), a
# legacy-forwarding one (format "JSON") and the dump of fiware-orion issue #3944; each with the
# POST /v2/registrations body that creates the same registration through our API
REGISTRATIONS: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
    (
        {
            "_id": ObjectId("62aa3d3ac734067e6f0d0871"),
            "description": "Relative Humidity Context Source",
            "expiration": LONG_MAX,
            "servicePath": "/",
            "contextRegistration": [
                {
                    "entities": [{"id": "room2", "type": "Room"}, {"id": ".*", "isPattern": True, "type": "Car"}],
                    "attrs": [{"name": "relativeHumidity", "type": ""}],
                    "providingApplication": "http://localhost:1234",
                }
            ],
            "status": "active",
            "fwdMode": "all",
            "format": "normalized",
        },
        {
            "description": "Relative Humidity Context Source",
            "dataProvided": {
                "entities": [{"id": "room2", "type": "Room"}, {"idPattern": ".*", "type": "Car"}],
                "attrs": ["relativeHumidity"],
            },
            "provider": {"http": {"url": "http://localhost:1234"}},
            "status": "active",
        },
    ),
    (
        {
            "_id": ObjectId("62aa3d3ac734067e6f0d0872"),
            "expiration": 2145916800,
            "servicePath": "/parks",
            "contextRegistration": [
                {
                    "entities": [{"id": ".*", "isPattern": "true"}],
                    "attrs": [],
                    "providingApplication": "https://weather.example/v2",
                }
            ],
            "fwdMode": "query",
            "format": "normalized",
        },
        None,  # created through the API, `isPattern` is a boolean: compared in the test below
    ),
    (
        {
            "_id": ObjectId("62aa3d3ac734067e6f0d0873"),
            "expiration": LONG_MAX,
            "servicePath": "/",
            "contextRegistration": [
                {
                    "entities": [{"id": "E1", "type": "T1"}],
                    "attrs": [{"name": "A1", "type": ""}],
                    "providingApplication": "http://localhost:9801/v2",
                }
            ],
            "status": "inactive",
            "fwdMode": "all",
            "format": "JSON",
        },
        {
            "dataProvided": {"entities": [{"id": "E1", "type": "T1"}], "attrs": ["A1"]},
            "provider": {"http": {"url": "http://localhost:9801/v2"}, "legacyForwarding": True},
            "status": "inactive",
        },
    ),
    (
        {
            "_id": ObjectId("61556a428015fb36194d4f2e"),
            "expiration": LONG_MAX,
            "servicePath": "/",
            "contextRegistration": [
                {
                    "entities": [{"id": "E", "type": "Access"}],
                    "attrs": [{"name": "A", "type": ""}],
                    "providingApplication": "http://localhost:1028/E/",
                }
            ],
            "fwdMode": "update",
            "format": "normalized",
        },
        {
            "dataProvided": {"entities": [{"id": "E", "type": "Access"}], "attrs": ["A"]},
            "provider": {"http": {"url": "http://localhost:1028/E/"}, "supportedForwardingMode": "update"},
        },
    ),
]

REGISTRATIONS_RENDERED: dict[str, dict[str, Any]] = {
    "62aa3d3ac734067e6f0d0871": {
        "id": "62aa3d3ac734067e6f0d0871",
        "description": "Relative Humidity Context Source",
        "dataProvided": {
            "entities": [{"id": "room2", "type": "Room"}, {"idPattern": ".*", "type": "Car"}],
            "attrs": ["relativeHumidity"],
        },
        "provider": {
            "http": {"url": "http://localhost:1234"},
            "supportedForwardingMode": "all",
            "legacyForwarding": False,
        },
        "status": "active",
    },
    "62aa3d3ac734067e6f0d0872": {
        "id": "62aa3d3ac734067e6f0d0872",
        "expires": "2038-01-01T00:00:00.00Z",
        "dataProvided": {"entities": [{"idPattern": ".*"}], "attrs": []},
        "provider": {
            "http": {"url": "https://weather.example/v2"},
            "supportedForwardingMode": "query",
            "legacyForwarding": False,
        },
        "status": "active",
    },
}
