"""`/v2/subscriptions` over HTTP, and what its notifications look like on the wire."""

from __future__ import annotations

import asyncio
from dataclasses import astuple

import orjson
import pytest

from tests.receivers import drained


def subscription(url: str, **extra) -> dict:
    body = {
        "description": "rooms",
        "subject": {"entities": [{"idPattern": ".*", "type": "Room"}], "condition": {"attrs": ["temp"]}},
        "notification": {"http": {"url": url}, "attrs": ["temp"]},
    }
    body.update(extra)
    return body


async def create(client, body: dict, **headers) -> str:
    r = await client.post("/v2/subscriptions", json=body, headers=headers)
    assert r.status == 201, await r.text()
    location = r.headers["Location"]
    assert location.startswith("/v2/subscriptions/")
    sub_id = location.rsplit("/", 1)[1]
    assert len(sub_id) == 24 and all(c in "0123456789abcdef" for c in sub_id)
    return sub_id


async def test_created_subscription_is_rendered_as_orion_does(client):
    sub_id = await create(
        client, subscription("http://localhost:1028/accumulate", throttling=5, expires="2040-01-01T14:00:00Z")
    )
    r = await client.get(f"/v2/subscriptions/{sub_id}")
    assert r.status == 200
    assert await r.json() == {
        "id": sub_id,
        "description": "rooms",
        "subject": {
            "entities": [{"idPattern": ".*", "type": "Room"}],
            "condition": {"attrs": ["temp"], "notifyOnMetadataChange": True},
        },
        "notification": {
            "attrs": ["temp"],
            "onlyChangedAttrs": False,
            "attrsFormat": "normalized",
            "http": {"url": "http://localhost:1028/accumulate"},
            "covered": False,
        },
        "expires": "2040-01-01T14:00:00.000Z",
        "status": "active",
        "throttling": 5,
    }


async def test_list_pages_and_counts(client):
    ids = [await create(client, subscription(f"http://localhost:1028/{i}")) for i in range(3)]
    r = await client.get("/v2/subscriptions?limit=2&options=count")
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "3"
    assert [s["id"] for s in await r.json()] == ids[:2]
    r = await client.get("/v2/subscriptions?offset=2")
    assert [s["id"] for s in await r.json()] == ids[2:]


async def test_subscriptions_belong_to_their_tenant(client):
    sub_id = await create(client, subscription("http://localhost:1028/x"), **{"Fiware-Service": "sapporo"})
    assert (await client.get(f"/v2/subscriptions/{sub_id}")).status == 404
    r = await client.get(f"/v2/subscriptions/{sub_id}", headers={"Fiware-Service": "sapporo"})
    assert r.status == 200


async def test_unknown_subscription_is_404(client):
    for method in ("get", "delete"):
        r = await getattr(client, method)("/v2/subscriptions/5f0000000000000000000000")
        assert r.status == 404
        assert await r.json() == {
            "error": "NotFound",
            "description": "The requested subscription has not been found. Check id",
        }


async def test_patch_replaces_the_given_fields_and_delete_removes(client):
    sub_id = await create(client, subscription("http://localhost:1028/x"))
    r = await client.patch(f"/v2/subscriptions/{sub_id}", json={"status": "inactive", "description": "changed"})
    assert r.status == 204
    body = await (await client.get(f"/v2/subscriptions/{sub_id}")).json()
    assert body["status"] == "inactive" and body["description"] == "changed"
    assert body["notification"]["http"] == {"url": "http://localhost:1028/x"}
    assert (await client.delete(f"/v2/subscriptions/{sub_id}")).status == 204
    assert (await client.get(f"/v2/subscriptions/{sub_id}")).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"subject": {"entities": []}, "notification": {"http": {"url": "http://a"}}},
        {"subject": {"entities": [{"id": "E"}]}, "notification": {"http": {"url": "ftp://a"}}},
        {
            "subject": {"entities": [{"id": "E"}]},
            "notification": {"http": {"url": "http://a"}, "attrs": ["a"], "exceptAttrs": ["b"]},
        },
        {"subject": {"entities": [{"id": "E"}]}, "notification": {"http": {"url": "http://a"}, "covered": True}},
        {
            "subject": {"entities": [{"id": "E"}]},
            "notification": {"http": {"url": "http://a"}, "attrsFormat": "pretty"},
        },
        {"subject": {"entities": [{"id": "E"}]}, "notification": {"http": {"url": "http://a"}}, "expires": "tomorrow"},
        {"subject": {"entities": [{"id": "E"}]}, "notification": {"http": {"url": "http://a"}}, "throttling": -1},
        {
            "subject": {"entities": [{"id": "E"}], "condition": {"expression": {"q": "a>>1"}}},
            "notification": {"http": {"url": "http://a"}},
        },
        {
            "subject": {"entities": [{"id": "E"}]},
            "notification": {"http": {"url": "http://a"}, "mqtt": {"url": "mqtt://a", "topic": "t"}},
        },
        {"subject": {"entities": [{"id": "E"}]}},
        {"notification": {"http": {"url": "http://a"}}},
    ],
)
async def test_bad_subscriptions_are_400_and_store_nothing(client, body):
    r = await client.post("/v2/subscriptions", json=body)
    assert r.status == 400
    assert (await r.json())["error"] == "BadRequest"
    assert await (await client.get("/v2/subscriptions")).json() == []


async def test_notification_on_wire(client, receiver):
    await create(client, subscription(receiver.url))
    r = await client.post(
        "/v2/entities",
        json={"id": "R1", "type": "Room", "temp": {"value": 21.5}, "other": {"value": 1}},
        headers={"Fiware-Service": "city", "Fiware-ServicePath": "/north", "Fiware-Correlator": "c-1"},
    )
    assert r.status == 201
    await drained(client)
    assert receiver.requests == []  # the subscription is in the default tenant
    sub_id = await create(client, subscription(receiver.url), **{"Fiware-Service": "city"})
    await client.patch(
        "/v2/entities/R1/attrs",
        json={"temp": {"value": 22}},
        headers={"Fiware-Service": "city", "Fiware-Correlator": "c-2", "Fiware-ServicePath": "/north"},
    )
    await receiver.wait_for(1)
    method, path, headers, body, _ = astuple(receiver.requests[0])
    assert (method, path) == ("POST", "/notify")
    assert orjson.loads(body) == {
        "subscriptionId": sub_id,
        "data": [{"id": "R1", "type": "Room", "temp": {"type": "Number", "value": 22, "metadata": {}}}],
    }
    assert headers["Fiware-Service"] == "city"
    assert headers["Fiware-Servicepath"] == "/north"
    assert headers["Fiware-Correlator"] == "c-2; cbnotif=1"
    assert headers["Ngsiv2-AttrsFormat"] == "normalized"


async def test_http_custom_with_macros_headers_and_query(client, receiver):
    await create(
        client,
        {
            "subject": {"entities": [{"id": "R1", "type": "Room"}]},
            "notification": {
                "httpCustom": {
                    "url": receiver.url_for("/custom/") + "${id}",
                    "method": "PUT",
                    "headers": {"X-Temp": "${temp}", "User-Agent": ""},
                    "qs": {"type": "${type}"},
                    "payload": "the temperature is ${temp}",
                }
            },
        },
    )
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 30}})
    await receiver.wait_for(1)
    method, path, headers, body, _ = astuple(receiver.requests[0])
    assert method == "PUT"
    assert path == "/custom/R1?type=Room"
    assert headers["X-Temp"] == "30"
    assert "User-Agent" not in headers
    assert body == b"the temperature is 30"


async def test_key_values_format_and_delete_alteration(client, receiver):
    await create(
        client,
        {
            "subject": {"entities": [{"id": "R1"}], "condition": {"alterationTypes": ["entityDelete"]}},
            "notification": {"http": {"url": receiver.url}, "attrsFormat": "keyValues"},
        },
    )
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
    await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 2}})
    assert (await client.delete("/v2/entities/R1")).status == 204
    await receiver.wait_for(1)
    await drained(client)
    assert len(receiver.requests) == 1
    body = receiver.requests[0].json()
    assert body["data"] == [{"id": "R1", "type": "Room", "temp": 2}]
    assert receiver.requests[0].headers["Ngsiv2-AttrsFormat"] == "keyValues"


async def test_oneshot_notifies_once_then_goes_inactive(client, receiver):
    sub_id = await create(client, subscription(receiver.url, status="oneshot"))
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
    await receiver.wait_for(1)
    await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 2}})
    await drained(client)
    assert len(receiver.requests) == 1
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "inactive"


async def test_expired_subscription_sends_nothing_and_shows_expired(client, receiver):
    sub_id = await create(client, subscription(receiver.url, expires="2001-01-01T00:00:00Z"))
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
    await drained(client)
    assert receiver.requests == []
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "expired"


async def test_throttling_drops_notifications_within_the_window(client, receiver):
    await create(client, subscription(receiver.url, throttling=60))
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
    for v in range(2, 5):
        await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": v}})
    await receiver.wait_for(1)
    await drained(client)
    assert len(receiver.requests) == 1


async def test_an_upsert_of_an_existing_entity_notifies_a_throttled_subscription(client, receiver):
    """The upsert first tries an insert, which the store refuses; the throttling window that try
    opened is closed again, so the update that follows notifies."""
    assert (await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})).status == 201
    await create(client, subscription(receiver.url, throttling=60))
    r = await client.post("/v2/entities?options=upsert", json={"id": "R1", "type": "Room", "temp": {"value": 2}})
    assert r.status == 204
    await receiver.wait_for(1)
    assert receiver.requests[0].json()["data"][0]["temp"]["value"] == 2
    await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 3}})
    await drained(client)
    assert len(receiver.requests) == 1  # the window the update opened holds


async def test_q_condition_filters_notifications(client, receiver):
    body = subscription(receiver.url)
    body["subject"]["condition"]["expression"] = {"q": "temp>25"}
    await create(client, body)
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 20}})
    await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 26}})
    await receiver.wait_for(1)
    await drained(client)
    assert [b["data"][0]["temp"]["value"] for b in receiver.bodies] == [26]


async def test_op_notify_applies_a_notification_from_another_broker(client):
    r = await client.post(
        "/v2/op/notify",
        json={
            "subscriptionId": "5f0000000000000000000000",
            "data": [{"id": "R9", "type": "Room", "temp": {"type": "Number", "value": 3}}],
        },
    )
    assert r.status == 200
    body = await (await client.get("/v2/entities/R9?options=keyValues")).json()
    assert body == {"id": "R9", "type": "Room", "temp": 3}


async def test_list_shows_only_the_subscriptions_of_the_given_service_path(client):
    everywhere = await create(client, subscription("http://localhost:1028/x"))
    north = await create(client, subscription("http://localhost:1028/x"), **{"Fiware-ServicePath": "/north"})
    subtree = await create(client, subscription("http://localhost:1028/x"), **{"Fiware-ServicePath": "/north/#"})

    async def listed(**headers) -> list[str]:
        r = await client.get("/v2/subscriptions?options=count", headers=headers)
        assert r.status == 200
        ids = [s["id"] for s in await r.json()]
        assert r.headers["Fiware-Total-Count"] == str(len(ids))
        return ids

    assert await listed() == [everywhere, north, subtree]
    assert await listed(**{"Fiware-ServicePath": "/#"}) == [everywhere, north, subtree]
    assert await listed(**{"Fiware-ServicePath": "/north"}) == [north]
    assert await listed(**{"Fiware-ServicePath": "/north/#"}) == [subtree]
    assert await listed(**{"Fiware-ServicePath": "/south"}) == []


async def test_a_subscription_takes_one_service_path(client):
    r = await client.post(
        "/v2/subscriptions", json=subscription("http://localhost:1028/x"), headers={"Fiware-ServicePath": "/a,/b"}
    )
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "max one service-path allowed for subscriptions"}
    assert await (await client.get("/v2/subscriptions")).json() == []


async def test_bad_url_host_is_400_and_jexl_expression_is_returned(client):
    body = subscription("http://[::1/notify")
    r = await client.post("/v2/subscriptions", json=body)
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid URL parsing notification url"}
    body = subscription("http://localhost:1028/x", description="")
    body["subject"]["condition"]["expression"] = {"jexlExpression": "temp > 20"}
    sub_id = await create(client, body)
    shown = await (await client.get(f"/v2/subscriptions/{sub_id}")).json()
    assert "description" not in shown
    assert shown["subject"]["condition"]["expression"] == {"jexlExpression": "temp > 20"}


async def test_forced_update_notifies_an_unchanged_value(client, receiver):
    body = subscription(receiver.url)
    body["subject"]["condition"]["alterationTypes"] = ["entityChange"]
    await create(client, body)
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 20}})
    same = {"temp": {"value": 20}}
    assert (await client.patch("/v2/entities/R1/attrs", json=same)).status == 204
    assert (
        await client.post(
            "/v2/op/update", json={"actionType": "update", "entities": [{"id": "R1", "type": "Room", **same}]}
        )
    ).status == 204
    text = {"Content-Type": "text/plain"}
    assert (await client.put("/v2/entities/R1/attrs/temp/value", data="20", headers=text)).status == 204
    await drained(client)
    assert receiver.requests == []  # nothing changed, nothing forced
    assert (await client.patch("/v2/entities/R1/attrs?options=forcedUpdate", json=same)).status == 204
    assert (
        await client.post(
            "/v2/op/update?options=forcedUpdate",
            json={"actionType": "update", "entities": [{"id": "R1", "type": "Room", **same}]},
        )
    ).status == 204
    assert (
        await client.put("/v2/entities/R1/attrs/temp/value?options=forcedUpdate", data="20", headers=text)
    ).status == 204
    await receiver.wait_for(3)
    for raw in (r.body for r in receiver.requests):
        assert orjson.loads(raw)["data"] == [
            {"id": "R1", "type": "Room", "temp": {"type": "Number", "value": 20, "metadata": {}}}
        ]


async def test_only_changed_attrs_sends_nothing_for_an_unchanged_value(client, receiver):
    body = {
        "subject": {"entities": [{"id": "R1", "type": "Room"}], "condition": {"alterationTypes": ["entityUpdate"]}},
        "notification": {"http": {"url": receiver.url}, "onlyChangedAttrs": True},
    }
    await create(client, body)
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 20}, "hum": {"value": 50}})
    text = {"Content-Type": "text/plain"}
    assert (await client.put("/v2/entities/R1/attrs/temp/value", data="20", headers=text)).status == 204
    assert (
        await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": 20}, "hum": {"value": 51}})
    ).status == 204
    await receiver.wait_for(1)
    await drained(client)
    assert len(receiver.requests) == 1
    assert receiver.requests[0].json()["data"][0]["hum"]["value"] == 51


async def test_q_on_service_path_selects_notifications(client, receiver):
    body = subscription(receiver.url)
    body["subject"]["condition"]["expression"] = {"q": "servicePath==/north"}
    await create(client, body)
    for path in ("/south", "/north"):
        r = await client.post(
            "/v2/entities",
            json={"id": "R" + path[1:], "type": "Room", "temp": {"value": 1}},
            headers={"Fiware-ServicePath": path},
        )
        assert r.status == 201
    await receiver.wait_for(1)
    await drained(client)
    assert [b["data"][0]["id"] for b in receiver.bodies] == ["Rnorth"]


async def test_a_patch_to_oneshot_rearms_a_spent_subscription(client, receiver):
    sub_id = await create(client, subscription(receiver.url, status="oneshot"))
    await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
    await receiver.wait_for(1)
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "inactive"
    assert (await client.patch(f"/v2/subscriptions/{sub_id}", json={"status": "oneshot"})).status == 204
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "oneshot"
    for v in (2, 3):
        await client.patch("/v2/entities/R1/attrs", json={"temp": {"value": v}})
    await receiver.wait_for(2)
    await drained(client)
    assert [b["data"][0]["temp"]["value"] for b in receiver.bodies] == [1, 2]
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "inactive"


async def test_concurrent_writes_notify_a_oneshot_subscription_once(client, receiver):
    sub_id = await create(client, subscription(receiver.url, status="oneshot"))
    results = await asyncio.gather(
        *(client.post("/v2/entities", json={"id": f"R{i}", "type": "Room", "temp": {"value": i}}) for i in range(20))
    )
    assert [r.status for r in results] == [201] * 20
    await receiver.wait_for(1)
    await drained(client)
    assert len(receiver.requests) == 1
    assert (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["status"] == "inactive"


async def test_a_text_payload_that_comes_out_empty_sends_nothing_and_counts_a_failure(client, receiver):
    """Orion's HTTP layer refuses a text/plain request without content: no request leaves, the
    notification is counted (`timesSent`) and recorded as a failure whose reason is just "error"."""
    sub_id = await create(
        client,
        {
            "subject": {"entities": [{"idPattern": ".*", "type": "T"}]},
            "notification": {
                "httpCustom": {"url": receiver.url, "headers": {"content-type": "text/plain"}, "payload": "${A}"}
            },
        },
    )
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "T", "B": {"value": 1}})).status == 201
    await drained(client)
    assert receiver.requests == []
    status = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["notification"]
    assert status["timesSent"] == 1
    assert status["failsCounter"] == 1
    assert status["lastFailureReason"] == "error"
    assert "lastSuccess" not in status
    assert (await client.post("/v2/entities", json={"id": "E2", "type": "T", "A": {"value": "x"}})).status == 201
    await receiver.wait_for(1)
    assert receiver.requests[0].body == b"x"
    assert receiver.requests[0].headers["Content-Type"] == "text/plain"


async def test_patching_the_notification_keeps_only_changed_attrs_and_covered_unless_given(client, receiver):
    sub_id = await create(
        client,
        {
            "subject": {"entities": [{"id": "E1"}], "condition": {"attrs": ["A"], "notifyOnMetadataChange": False}},
            "notification": {
                "http": {"url": receiver.url},
                "attrs": ["A", "Z"],
                "covered": True,
                "onlyChangedAttrs": True,
                "attrsFormat": "keyValues",
                "metadata": ["previousValue"],
                "maxFailsLimit": 3,
            },
        },
    )
    patch = {"notification": {"http": {"url": receiver.url_for("/other")}, "attrs": ["A"]}}
    assert (await client.patch(f"/v2/subscriptions/{sub_id}", json=patch)).status == 204
    notification = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["notification"]
    assert notification == {
        "attrs": ["A"],
        "onlyChangedAttrs": True,
        "attrsFormat": "normalized",
        "http": {"url": receiver.url_for("/other")},
        "covered": True,
    }
    patch = {"notification": {"http": {"url": receiver.url}, "onlyChangedAttrs": False, "covered": False}}
    assert (await client.patch(f"/v2/subscriptions/{sub_id}", json=patch)).status == 204
    notification = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["notification"]
    assert (notification["onlyChangedAttrs"], notification["covered"]) == (False, False)


async def test_patching_the_subject_keeps_notify_on_metadata_change_unless_given(client, receiver):
    sub_id = await create(
        client,
        {
            "subject": {"entities": [{"id": "E1"}], "condition": {"attrs": ["A"], "notifyOnMetadataChange": False}},
            "notification": {"http": {"url": receiver.url}},
        },
    )
    assert (
        await client.patch(f"/v2/subscriptions/{sub_id}", json={"subject": {"entities": [{"id": "E2"}]}})
    ).status == 204
    subject = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["subject"]
    assert subject == {"entities": [{"id": "E2"}], "condition": {"attrs": [], "notifyOnMetadataChange": False}}
    patch = {"subject": {"entities": [{"id": "E2"}], "condition": {"notifyOnMetadataChange": True}}}
    assert (await client.patch(f"/v2/subscriptions/{sub_id}", json=patch)).status == 204
    subject = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["subject"]
    assert subject["condition"]["notifyOnMetadataChange"] is True


async def test_a_custom_url_without_a_host_after_substitution_sends_nothing_and_records_no_failure(client, receiver):
    """Orion's parseUrl rejects it before any request is built: counted in timesSent, no failure."""
    sub_id = await create(
        client,
        {
            "subject": {"entities": [{"id": "E1"}]},
            "notification": {"httpCustom": {"url": "http://${host}/notify"}},
        },
    )
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "T", "A": {"value": 1}})).status == 201
    await drained(client)
    assert receiver.requests == []
    status = (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["notification"]
    assert status["timesSent"] == 1
    assert "lastFailure" not in status and "failsCounter" not in status and "lastSuccess" not in status
