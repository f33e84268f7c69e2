"""Personal data and context providers: an entity of a personal type goes to a provider, or is asked
of one, only when the registration's creator holds the subject's consent; each such disclosure is
in the access log. Open types are forwarded as in Orion."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.personal.conftest import ALICE, CLINIC, SHOP, create_record, declare, grant
from tests.providers import Provider


async def register(api: TestClient, who: dict[str, str], url: str, attrs: list[str]) -> None:
    body = {
        "dataProvided": {"entities": [{"id": "HR-alice", "type": "HealthRecord"}], "attrs": attrs},
        "provider": {"http": {"url": url}},
    }
    r = await api.post("/v2/registrations", json=body, headers=who)
    assert r.status == 201, await r.text()


async def forwarding_log(api: TestClient) -> list[tuple[str, str]]:
    r = await api.get("/personal/v1/access-log", headers=ALICE)
    return [(x["recipient"], x["channel"]) for x in await r.json() if x["channel"] == "forwarding"]


async def test_personal_entity_is_not_asked_of_a_provider_without_consent(api: TestClient, provider: Provider) -> None:
    await declare(api)
    await create_record(api, "HR-alice", "alice")
    provider.add("HR-alice", "HealthRecord", bloodType={"type": "Text", "value": "A"})
    await register(api, SHOP, provider.url(), ["bloodType"])

    r = await api.get("/v2/entities/HR-alice", headers=ALICE)

    assert r.status == 200 and "bloodType" not in await r.json()
    assert provider.requests == []
    assert await forwarding_log(api) == []


async def test_personal_entity_goes_to_a_consented_provider_and_is_logged(api: TestClient, provider: Provider) -> None:
    await declare(api)
    await create_record(api, "HR-alice", "alice")
    await grant(api, ALICE, recipient="svc-clinic")
    provider.add("HR-alice", "HealthRecord", bloodType={"type": "Text", "value": "A"})
    await register(api, CLINIC, provider.url(), ["bloodType"])

    r = await api.get("/v2/entities/HR-alice?attrs=bloodType", headers=ALICE)

    assert (r.status, (await r.json()).get("bloodType", {}).get("value")) == (200, "A")
    assert len(provider.queries) == 1
    assert await forwarding_log(api) == [("svc-clinic", "forwarding")]


async def test_update_of_a_personal_entity_to_an_unconsented_provider_is_refused(
    api: TestClient, provider: Provider
) -> None:
    await declare(api)
    await create_record(api, "HR-alice", "alice")
    await register(api, SHOP, provider.url(), ["bloodType"])

    r = await api.patch("/v2/entities/HR-alice/attrs", json={"bloodType": {"value": "B"}}, headers=ALICE)

    assert r.status == 403
    assert provider.requests == []
