"""A broker with HS256 auth on, and tokens for each role (the notification receiver is tests/receivers.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.settings import HttpSettings
from broker.personal.auth import AuthSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import DeliverySettings

SECRET = "test-secret-of-at-least-32-bytes-long!!"


def token(sub: str, *roles: str, secret: str = SECRET, expires_in: float = 3600, **claims: Any) -> str:
    body = {"sub": sub, "roles": list(roles), "exp": int(time.time() + expires_in), **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def bearer(sub: str, *roles: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, *roles, **kw)}"}


OPERATOR = bearer("city-admin", "operator")
ALICE = bearer("alice", "resident")
BOB = bearer("bob", "resident")
CLINIC = bearer("svc-clinic", "service")
SHOP = bearer("svc-shop", "service")
ANALYST = bearer("ana", "analyst")


def make_client(tmp_path: Path, **kw: Any) -> TestClient:
    app = build_app(
        SqliteStorage(str(tmp_path / "broker.db")),
        HttpSettings(),
        DeliverySettings(max_backoff=0.2),
        auth=AuthSettings(secret=SECRET, **kw),
        personal_min_k=3,
    )
    return TestClient(TestServer(app))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with make_client(tmp_path) as c:
        yield c


async def declare(
    api: TestClient, type_: str = "HealthRecord", subject_attr: str = "refResident", **headers: str
) -> None:
    r = await api.put(
        f"/personal/v1/types/{type_}", json={"subjectAttr": subject_attr}, headers={**OPERATOR, **headers}
    )
    assert r.status == 204, await r.text()


async def grant(api: TestClient, who: dict[str, str], **body: Any) -> str:
    payload = {"recipient": "svc-clinic", "entityTypes": ["HealthRecord"], "purpose": "health-guidance", **body}
    r = await api.post("/personal/v1/consents", json=payload, headers=who)
    assert r.status == 201, await r.text()
    return r.headers["Location"].rsplit("/", 1)[1]


async def create_record(
    api: TestClient, entity_id: str, resident: str, who: dict[str, str] | None = None, **attrs: Any
) -> None:
    body = {
        "id": entity_id,
        "type": "HealthRecord",
        "refResident": {"type": "Text", "value": resident},
        "steps": {"type": "Number", "value": attrs.get("steps", 5000)},
        "heartRate": {"type": "Number", "value": attrs.get("heartRate", 70)},
        "district": {"type": "Text", "value": attrs.get("district", "north")},
    }
    r = await api.post("/v2/entities", json=body, headers=who or bearer(resident, "resident"))
    assert r.status == 201, await r.text()
