from __future__ import annotations


async def test_version_reports_a_numeric_orion_version_and_names_this_broker_where_orion_names_its_builder(client):
    resp = await client.get("/version")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert "Server" not in resp.headers
    assert resp.headers["Fiware-Correlator"]
    body = await resp.json()
    major, minor, patch = (int(p) for p in body["orion"]["version"].split("."))
    assert major >= 4
    assert body["orion"]["uptime"].endswith(" s")
    assert list(body) == ["orion"]  # Orion's document has no other key
    assert body["orion"]["compiled_by"].startswith("area-broker ")


async def test_entry_point_is_exactly_orions(client):
    resp = await client.get("/v2")
    assert resp.status == 200
    assert await resp.text() == (
        '{"entities_url":"/v2/entities","types_url":"/v2/types",'
        '"subscriptions_url":"/v2/subscriptions","registrations_url":"/v2/registrations"}'
    )


async def test_correlator_is_echoed(client):
    resp = await client.get("/version", headers={"Fiware-Correlator": "abc-123"})
    assert resp.headers["Fiware-Correlator"] == "abc-123"
