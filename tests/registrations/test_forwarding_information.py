"""`forwardingInformation` in GET /v2/registrations[/{id}]: the manual's counters, absent until a forward.

Orion 4.x documents the object but never fills it; we render it as its dormant renderer would
(Registration.cpp: after `status`; `timesSent`, then `lastSuccess`, `lastFailure`, `lastForwarding`,
each date only when there is one). The counters are written by the forwarding engine through
`record_forwarding`; here the test plays that engine.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from broker.http.services import SERVICES

BODY: dict[str, Any] = {
    "dataProvided": {"entities": [{"id": "E1", "type": "T"}], "attrs": ["a"]},
    "provider": {"http": {"url": "http://cp.example/v2"}},
}
T0 = 1700000000.125  # 2023-11-14T22:13:20.125Z


async def _create(client: TestClient, **headers: str) -> str:
    r = await client.post("/v2/registrations", json=BODY, headers=headers)
    assert r.status == 201, await r.text()
    return r.headers["Location"].rsplit("/", 1)[1]


async def _forwarded(client: TestClient, reg_id: str, *, ok: bool, at: float, tenant: str = "") -> None:
    await client.app[SERVICES].registrations.storage.record_forwarding(tenant, reg_id, ok=ok, at=at)


async def test_a_registration_never_forwarded_to_has_no_forwarding_information(client: TestClient) -> None:
    reg_id = await _create(client)
    r = await client.get(f"/v2/registrations/{reg_id}")
    assert r.status == 200
    body = await r.json()
    assert "forwardingInformation" not in body and list(body)[-1] == "status"


async def test_forwarding_information_counts_and_dates_success_and_failure_after_status(client: TestClient) -> None:
    reg_id = await _create(client)
    await _forwarded(client, reg_id, ok=True, at=T0)
    await _forwarded(client, reg_id, ok=False, at=T0 + 60)
    r = await client.get(f"/v2/registrations/{reg_id}")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    body = await r.json()
    assert list(body) == ["id", "dataProvided", "provider", "status", "forwardingInformation"]
    info = body["forwardingInformation"]
    assert info == {
        "timesSent": 2,
        "lastSuccess": "2023-11-14T22:13:20.125Z",
        "lastFailure": "2023-11-14T22:14:20.125Z",
        "lastForwarding": "2023-11-14T22:14:20.125Z",
    }
    assert list(info) == ["timesSent", "lastSuccess", "lastFailure", "lastForwarding"]


async def test_forwarding_information_without_failures_has_no_last_failure(client: TestClient) -> None:
    reg_id = await _create(client)
    await _forwarded(client, reg_id, ok=True, at=T0)
    body = await (await client.get(f"/v2/registrations/{reg_id}")).json()
    assert body["forwardingInformation"] == {
        "timesSent": 1,
        "lastSuccess": "2023-11-14T22:13:20.125Z",
        "lastForwarding": "2023-11-14T22:13:20.125Z",
    }


async def test_the_list_shows_each_registrations_own_forwarding_information(client: TestClient) -> None:
    first, second = await _create(client), await _create(client)
    await _forwarded(client, second, ok=False, at=T0)
    r = await client.get("/v2/registrations")
    assert r.status == 200
    listed = {reg["id"]: reg for reg in await r.json()}
    assert "forwardingInformation" not in listed[first]
    assert listed[second]["forwardingInformation"] == {
        "timesSent": 1,
        "lastFailure": "2023-11-14T22:13:20.125Z",
        "lastForwarding": "2023-11-14T22:13:20.125Z",
    }


async def test_counters_of_one_tenant_do_not_show_in_another(client: TestClient) -> None:
    reg_id = await _create(client, **{"Fiware-Service": "city"})
    await _forwarded(client, reg_id, ok=True, at=T0, tenant="")  # the default tenant has no such registration
    await _forwarded(client, reg_id, ok=True, at=T0 + 1, tenant="city")
    body = await (await client.get(f"/v2/registrations/{reg_id}", headers={"Fiware-Service": "city"})).json()
    assert body["forwardingInformation"]["timesSent"] == 1
    assert body["forwardingInformation"]["lastSuccess"] == "2023-11-14T22:13:21.125Z"
