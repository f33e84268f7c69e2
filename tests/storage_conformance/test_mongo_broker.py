"""MongoDB only: `python -m broker -dbURI ...` serves from MongoDB, in Orion's layout, and delivers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pymongo
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.process.broker_process import REPO_ROOT, BrokerProcess, broker_env, free_port


def _call(broker: BrokerProcess, method: str, path: str, body: Any = None, tenant: str = "") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(broker.url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if tenant:
        req.add_header("Fiware-Service", tenant)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def test_the_broker_serves_and_notifies_from_mongodb(tmp_path: Path, mongo_db: tuple[str, str]) -> None:
    uri, prefix = mongo_db
    received: list[dict[str, Any]] = []

    async def notify(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify", notify)
    receiver = TestServer(app, host="127.0.0.1")
    await receiver.start_server()
    try:
        with BrokerProcess(tmp_path / "unused.db", pass_db_path=False, args=["-dbURI", uri, "-db", prefix]) as broker:
            broker.start()
            sub = {"subject": {"entities": [{"idPattern": ".*"}]},
                   "notification": {"http": {"url": f"http://127.0.0.1:{receiver.port}/notify"}}}
            status, _ = _call(broker, "POST", "/v2/subscriptions", sub, tenant="city")
            assert status == 201
            room = {"id": "Room1", "type": "Room", "temp": {"value": 21, "metadata": {"unit": {"value": "CEL"}}}}
            assert _call(broker, "POST", "/v2/entities", room, tenant="city")[0] == 201
            status, body = _call(broker, "GET", "/v2/entities?q=temp>20&options=keyValues", tenant="city")
            assert (status, body) == (200, [{"id": "Room1", "type": "Room", "temp": 21}])
            assert _call(broker, "GET", "/v2/entities", tenant="other")[1] == []

            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.05)
            assert received and received[0]["data"][0]["id"] == "Room1"
            assert not (tmp_path / "unused.db").exists()

        with pymongo.MongoClient(uri) as client:
            doc = client[f"{prefix}-city"]["entities"].find_one()
            assert doc["_id"] == {"id": "Room1", "type": "Room", "servicePath": "/"}
            assert doc["attrs"]["temp"]["md"] == {"unit": {"type": "Text", "value": "CEL"}}
            assert client[f"{prefix}-city"]["csubs"].count_documents({}) == 1
    finally:
        await receiver.close()


def test_an_unreachable_mongodb_stops_the_broker_with_a_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broker", "-port", str(free_port()), "-dbURI", f"mongodb://127.0.0.1:{free_port()}/",
         "-dbTimeout", "300"],
        cwd=REPO_ROOT, env=broker_env(), capture_output=True, timeout=60,
    )
    assert done.returncode == 1
    assert "cannot start" in done.stderr.decode()
