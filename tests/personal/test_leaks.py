"""The leak suite: every read path, attacked by principals that must not see a resident's data.

`none` has no consent at all, `narrow` a consent that covers other attributes only (`district`),
`expired` a consent whose expiry has passed, `withdrawn` one withdrawn a moment ago. The secret is
the entity `HR-secret` (for `none`, `expired`, `withdrawn`) and, for everyone, its `heartRate` 1370713 (seven digits: no timestamp in a response can hold them)
and its location. Nothing of it may appear in a body, a count, a header or a notification.
"""

from __future__ import annotations

import time

import orjson
import pytest

from tests.personal.conftest import ALICE, bearer, declare, grant
from tests.receivers import drained, notifier_of

SECRET_VALUE = 1370713
ATTACKERS = ("none", "narrow", "expired", "withdrawn")


async def _world(api, receiver):
    await declare(api)
    body = {
        "id": "HR-secret",
        "type": "HealthRecord",
        "refResident": {"type": "Text", "value": "alice"},
        "heartRate": {"type": "Number", "value": SECRET_VALUE},
        "district": {"type": "Text", "value": "north"},
        "location": {"type": "geo:point", "value": "43.06, 141.35"},
    }
    r = await api.post("/v2/entities", json=body, headers=ALICE)
    assert r.status == 201
    r = await api.post("/v2/entities", json={"id": "WL-1", "type": "WaterLevel", "level": {"value": 1}})
    assert r.status == 201
    who = {a: bearer(f"svc-{a}", "service") for a in ATTACKERS}
    await grant(api, ALICE, recipient="svc-narrow", attrs=["district"])
    await grant(api, ALICE, recipient="svc-expired", expires=_soon(1.0))
    withdrawn = await grant(api, ALICE, recipient="svc-withdrawn")
    subs = {}
    for a in ATTACKERS:
        sub = {
            "subject": {"entities": [{"idPattern": ".*"}]},
            "notification": {"http": {"url": receiver.url}, "attrs": []},
        }
        r = await api.post("/v2/subscriptions", json=sub, headers=who[a])
        assert r.status == 201
        subs[r.headers["Location"].rsplit("/", 1)[1]] = a
    guard = notifier_of(api).guard  # the one that decides reads and notifications
    real = guard.clock
    guard.clock = lambda: real() + 2.0  # the expiring consent has expired, without waiting for it
    r = await api.delete(f"/personal/v1/consents/{withdrawn}", headers=ALICE)
    assert r.status == 204
    return who, subs


def _soon(seconds: float) -> str:
    t = time.gmtime(time.time() + seconds)
    millis = int((time.time() + seconds) % 1 * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{millis:03d}Z"


def _leaks(text: str, attacker: str) -> list[str]:
    found = []
    if str(SECRET_VALUE) in text:
        found.append("heartRate value")
    if "heartRate" in text:
        found.append("heartRate name")
    if "43.06" in text or "141.35" in text or "location" in text:
        found.append("location")
    if attacker != "narrow" and ("HR-secret" in text or "HealthRecord" in text):
        found.append("entity")
    return found


READS = [
    "/v2/entities?options=count",
    "/v2/entities?type=HealthRecord&options=count",
    "/v2/entities?idPattern=HR.*&options=count,keyValues",
    "/v2/entities?id=HR-secret&options=count,values&attrs=heartRate,district",
    "/v2/entities?q=heartRate==1370713&options=count",
    "/v2/entities?q=heartRate>100;district==north&options=count",
    "/v2/entities?mq=heartRate.dateCreated&options=count",
    "/v2/entities?orderBy=!heartRate&options=count&attrs=heartRate",
    "/v2/entities?georel=near;maxDistance:1000&geometry=point&coords=43.06,141.35&options=count",
    "/v2/entities?georel=coveredBy&geometry=box&coords=43,141;44,142&options=count",
    "/v2/entities?attrs=dateCreated,*&metadata=dateCreated,*",
    "/v2/entities/HR-secret",
    "/v2/entities/HR-secret?type=HealthRecord&attrs=heartRate",
    "/v2/entities/HR-secret/attrs",
    "/v2/entities/HR-secret/attrs/heartRate",
    "/v2/entities/HR-secret/attrs/heartRate/value",
    "/v2/entities/HR-secret/attrs/location",
    "/v2/types?options=count",
    "/v2/types?options=values",
    "/v2/types/HealthRecord",
]


@pytest.mark.parametrize("attacker", ATTACKERS)
async def test_no_read_path_leaks(api, receiver, attacker):
    who, _ = await _world(api, receiver)
    headers = who[attacker]
    for url in READS:
        fixed = {"Accept": "application/json, text/plain", "Fiware-Correlator": "leak-suite"}  # no random digits
        r = await api.get(url, headers={**headers, **fixed})
        text = await r.text()
        assert not _leaks(text, attacker), (url, text)
        assert not _leaks(repr([h for h in r.headers.items() if h[0] != "Date"]), attacker), (url, r.headers)
        allowed = {"WL-1", "HR-secret"} if attacker == "narrow" else {"WL-1"}
        if "options=count" in url and r.status == 200 and url.startswith("/v2/entities"):
            body = orjson.loads(text)
            ids = {e["id"] for e in body if isinstance(e, dict)}
            assert ids <= allowed and int(r.headers["Fiware-Total-Count"]) == len(body), (url, text)
        if "q=heartRate" in url or "georel" in url:
            assert r.headers.get("Fiware-Total-Count") == "0", (url, text)
    queries = [
        {"entities": [{"idPattern": ".*"}], "expression": {"q": "heartRate==1370713"}},
        {"entities": [{"id": "HR-secret", "type": "HealthRecord"}], "attrs": ["heartRate"]},
        {
            "entities": [{"idPattern": ".*"}],
            "expression": {"georel": "near;maxDistance:500", "geometry": "point", "coords": "43.06,141.35"},
        },
    ]
    for q in queries:
        r = await api.post("/v2/op/query?options=count", json=q, headers=headers)
        text = await r.text()
        assert not _leaks(text, attacker), (q, text)


@pytest.mark.parametrize("attacker", ATTACKERS)
async def test_no_notification_leaks(api, receiver, attacker):
    who, subs = await _world(api, receiver)
    r = await api.patch(
        "/v2/entities/HR-secret/attrs",
        json={"heartRate": {"value": SECRET_VALUE}, "district": {"value": "south"}},
        headers=ALICE,
    )
    assert r.status == 204
    r = await api.patch("/v2/entities/WL-1/attrs", json={"level": {"value": 2}})
    assert r.status == 204
    await drained(api)
    mine = [n for n in receiver.bodies if subs.get(n["subscriptionId"]) == attacker]
    assert mine, "the open entity's notification arrives"
    for n in mine:
        assert not _leaks(orjson.dumps(n).decode(), attacker), n


async def test_ordering_by_a_hidden_attribute_reveals_nothing(api):
    await declare(api)
    for i, (resident, rate) in enumerate([("r1", 50), ("r2", 200), ("r3", 100)]):
        body = {
            "id": f"HR-{i}",
            "type": "HealthRecord",
            "refResident": {"value": resident},
            "heartRate": {"value": rate},
            "district": {"value": "x"},
        }
        r = await api.post("/v2/entities", json=body, headers=bearer(resident, "resident"))
        assert r.status == 201
        await grant(api, bearer(resident, "resident"), recipient="svc-narrow", attrs=["district"])
    who = bearer("svc-narrow", "service")
    orders = []
    for order in ("heartRate", "!heartRate"):
        r = await api.get(f"/v2/entities?type=HealthRecord&orderBy={order}", headers=who)
        orders.append([e["id"] for e in await r.json()])
    assert orders == [["HR-0", "HR-1", "HR-2"], ["HR-0", "HR-1", "HR-2"]]  # creation order: all "missing"
