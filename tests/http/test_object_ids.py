"""Subscription and registration ids are laid out as Orion's MongoDB ObjectIds: creation second,
process, counter; so they sort in creation order."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestClient

SUBSCRIPTION = {"subject": {"entities": [{"idPattern": ".*"}]}, "notification": {"http": {"url": "http://r:1/n"}}}
REGISTRATION = {
    "dataProvided": {"entities": [{"id": "E", "type": "T"}]},
    "provider": {"http": {"url": "http://cp:1/v2"}},
}


async def _ids(client: TestClient, path: str, body: dict) -> list[str]:
    ids = []
    for _ in range(3):
        r = await client.post(path, json=body)
        assert r.status == 201
        ids.append(r.headers["Location"].rsplit("/", 1)[1])
    return ids


async def test_subscription_ids_are_object_ids_in_creation_order(client: TestClient) -> None:
    before = int(time.time())
    ids = await _ids(client, "/v2/subscriptions", SUBSCRIPTION)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    assert before <= int(ids[0][:8], 16) <= int(time.time())
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_registration_ids_are_object_ids_in_creation_order(client: TestClient) -> None:
    ids = await _ids(client, "/v2/registrations", REGISTRATION)
    assert all(len(i) == 24 for i in ids) and ids == sorted(ids)
