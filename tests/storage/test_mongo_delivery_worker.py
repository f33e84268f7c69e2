"""The delivery worker process opens MongoDB through the same factory as the broker: it sends what
a serving process that does not deliver has written, and never shows the URI on its command line."""

from __future__ import annotations

import subprocess

from aiohttp.test_utils import TestClient, TestServer

from broker.config import load_config
from broker.runtime import worker
from broker.runtime.app import build_app
from broker.storage.mongo import MongoStorage
from tests.process import workers
from tests.receivers import Receiver


async def test_the_delivery_worker_sends_from_mongodb_what_a_non_delivering_broker_wrote(
    mongo_db, receiver: Receiver
) -> None:
    uri, prefix = mongo_db
    app = build_app(MongoStorage(uri, db=prefix), deliver_here=False)
    async with TestClient(TestServer(app)) as client:
        sub = {"subject": {"entities": [{"idPattern": ".*"}]}, "notification": {"http": {"url": receiver.url}}}
        r = await client.post("/v2/subscriptions", json=sub)
        assert r.status == 201, await r.text()
        r = await client.post("/v2/entities", json={"id": "E1", "type": "T", "n": {"value": 1, "type": "Number"}})
        assert r.status == 201, await r.text()
        assert receiver.requests == []  # this app does not deliver: whatever arrives, the worker sent
        proc = worker.spawn(load_config(["-dbURI", uri, "-db", prefix], environ={}))
        try:
            assert uri not in " ".join(map(str, proc.args))
            await receiver.until(lambda: workers.values(receiver, "E1") != [], 30)
            assert workers.values(receiver, "E1") == [1]
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
