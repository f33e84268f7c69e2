"""Every disclosure of an answer that was sent is in the access log, even if the broker is killed
right after it (the records are handed to the log's writer process before the answer leaves)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import jwt
import pytest

from tests.process.broker_process import BrokerProcess

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

SECRET = "durability-secret-of-at-least-32-bytes!"


def _bearer(sub: str, role: str) -> dict[str, str]:
    claims = {"sub": sub, "roles": [role], "exp": int(time.time()) + 3600}
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


async def test_disclosures_of_answers_sent_survive_sigkill_of_the_broker(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "broker.db", args=["-logLevel", "WARN", "-authSecret", SECRET])
    broker.start()
    try:
        async with aiohttp.ClientSession() as http:
            entities = [
                {
                    "id": f"H{i}",
                    "type": "HealthRecord",
                    "refResident": {"type": "Text", "value": "alice"},
                    "steps": {"type": "Number", "value": i},
                }
                for i in range(5)
            ]
            async with http.post(
                f"{broker.url}/v2/op/update", json={"actionType": "append", "entities": entities}
            ) as r:
                assert r.status == 204
            async with http.put(
                f"{broker.url}/personal/v1/types/HealthRecord",
                json={"subjectAttr": "refResident"},
                headers=_bearer("admin", "operator"),
            ) as r:
                assert r.status == 204
            consent = {"recipient": "svc", "entityTypes": ["HealthRecord"], "purpose": "care"}
            async with http.post(
                f"{broker.url}/personal/v1/consents", json=consent, headers=_bearer("alice", "resident")
            ) as r:
                assert r.status == 201
            service = _bearer("svc", "service")
            for _ in range(40):
                async with http.get(f"{broker.url}/v2/entities?type=HealthRecord&limit=5", headers=service) as r:
                    assert r.status == 200 and len(await r.json()) == 5
            broker.kill()  # SIGKILL: no clean stop, no flush
            broker.start()
            # the killed broker's log writer commits what it was handed, then stops (end of its input)
            deadline = time.monotonic() + 20
            while True:
                async with http.get(
                    f"{broker.url}/personal/v1/access-log/verify", headers=_bearer("admin", "operator")
                ) as r:
                    assert r.status == 200
                    verdict = await r.json()
                if verdict["records"] == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert verdict == {"valid": True, "records": 200, "firstInvalid": None}
    finally:
        broker.kill()
