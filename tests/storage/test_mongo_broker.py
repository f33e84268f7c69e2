"""MongoDB only: `python -m broker -dbURI ...` serves from MongoDB, in Orion's layout, and delivers."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pymongo
import pytest

from tests.ferretdb import start_ferretdb
from tests.process.broker_process import BrokerProcess, free_port, version_status
from tests.receivers import Receiver

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`


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


async def test_the_broker_serves_and_notifies_from_mongodb(
    tmp_path: Path, mongo_db: tuple[str, str], receiver: Receiver
) -> None:
    uri, prefix = mongo_db
    with BrokerProcess(
        tmp_path / "unused.db", pass_db_path=False, args=["-dbURI", uri, "-db", prefix, "-multiservice"]
    ) as broker:
        broker.start()
        sub = {
            "subject": {"entities": [{"idPattern": ".*"}]},
            "notification": {"http": {"url": receiver.url}},
        }
        status, _ = _call(broker, "POST", "/v2/subscriptions", sub, tenant="city")
        assert status == 201
        room = {"id": "Room1", "type": "Room", "temp": {"value": 21, "metadata": {"unit": {"value": "CEL"}}}}
        assert _call(broker, "POST", "/v2/entities", room, tenant="city")[0] == 201
        status, body = _call(broker, "GET", "/v2/entities?q=temp>20&options=keyValues", tenant="city")
        assert (status, body) == (200, [{"id": "Room1", "type": "Room", "temp": 21}])
        assert _call(broker, "GET", "/v2/entities", tenant="other")[1] == []

        await receiver.wait_for(1)
        assert receiver.bodies[0]["data"][0]["id"] == "Room1"
        assert not (tmp_path / "unused.db").exists()

    with pymongo.MongoClient(uri) as client:
        doc = client[f"{prefix}-city"]["entities"].find_one()
        assert doc["_id"] == {"id": "Room1", "type": "Room", "servicePath": "/"}
        assert doc["attrs"]["temp"]["md"] == {"unit": {"type": "Text", "value": "CEL"}}
        assert client[f"{prefix}-city"]["csubs"].count_documents({}) == 1


def _wait_for_log(broker: BrokerProcess, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in broker.logs():
        assert broker.proc is not None and broker.proc.poll() is None, broker.logs()
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{broker.logs()}"
        time.sleep(0.1)


def test_a_mongodb_that_starts_after_the_broker_is_waited_for_then_served(tmp_path: Path) -> None:
    db_port = free_port()
    broker = BrokerProcess(
        tmp_path / "unused.db",
        pass_db_path=False,
        log_dir=tmp_path,
        args=["-dbURI", f"mongodb://127.0.0.1:{db_port}/", "-dbTimeout", "300"],
    )
    broker.spawn()
    server = None
    try:
        _wait_for_log(broker, "database unreachable, retrying")
        line = next(json.loads(x) for x in broker.logs().splitlines() if "database unreachable" in x)
        assert line["level"] == "WARNING" and line["attempt"] == 1 and "MongoDB" in line["error"]
        assert "Traceback" not in broker.logs()
        assert version_status(broker.port) is None  # not serving without its database
        try:
            server = start_ferretdb(tmp_path / "late", port=db_port)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        broker.wait_ready(timeout=60)
        assert "database reached" in broker.logs()
        status, _ = _call(broker, "POST", "/v2/entities", {"id": "E1", "type": "T"})
        assert status == 201
        assert _call(broker, "GET", "/v2/entities/E1?options=keyValues") == (200, {"id": "E1", "type": "T"})
    finally:
        assert broker.stop() == 0
        if server is not None:
            server.stop()


def test_a_broker_waiting_for_its_database_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    broker = BrokerProcess(
        tmp_path / "unused.db",
        pass_db_path=False,
        log_dir=tmp_path,
        args=["-dbURI", f"mongodb://127.0.0.1:{free_port()}/", "-dbTimeout", "300"],
    )
    broker.spawn()
    _wait_for_log(broker, "database unreachable, retrying")
    assert broker.stop() == 0
    assert "Traceback" not in broker.logs()


def test_a_database_lost_mid_run_gives_500s_then_serves_again_when_it_returns(tmp_path: Path) -> None:
    state = tmp_path / "db"
    try:
        server = start_ferretdb(state)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    db_port = int(server.uri.rsplit(":", 1)[1].strip("/"))
    broker = BrokerProcess(
        tmp_path / "unused.db",
        pass_db_path=False,
        log_dir=tmp_path,
        args=["-dbURI", server.uri, "-db", "lost", "-dbTimeout", "500"],
    )
    try:
        broker.start(timeout=30)
        assert _call(broker, "POST", "/v2/entities", {"id": "E1", "type": "T", "n": {"value": 1}})[0] == 201
        server.stop()
        for method, path, body in [
            ("GET", "/v2/entities", None),
            ("GET", "/v2/entities/E1", None),
            ("POST", "/v2/entities", {"id": "E2", "type": "T"}),
            ("PATCH", "/v2/entities/E1/attrs", {"n": {"value": 2}}),
            ("GET", "/v2/types", None),
            ("POST", "/v2/op/update", {"actionType": "append", "entities": [{"id": "E3", "type": "T"}]}),
            (
                "POST",
                "/v2/subscriptions",
                {
                    "subject": {"entities": [{"idPattern": ".*"}]},
                    "notification": {"http": {"url": "http://127.0.0.1:9/n"}},
                },
            ),
        ]:
            status, error = _call(broker, method, path, body)
            assert status == 500, (method, path, status, error)
            assert error["error"] == "InternalServerError", (method, path, error)
            assert error["description"].startswith("Database Error"), (method, path, error)
        assert broker.proc is not None and broker.proc.poll() is None  # still serving
        server = start_ferretdb(state, port=db_port)  # the same data back on the same address
        deadline = time.monotonic() + 30
        while _call(broker, "GET", "/v2/entities")[0] != 200:
            assert time.monotonic() < deadline, broker.logs()
            time.sleep(0.2)
        assert _call(broker, "GET", "/v2/entities?options=keyValues") == (200, [{"id": "E1", "type": "T", "n": 1}])
        assert _call(broker, "POST", "/v2/entities", {"id": "E2", "type": "T"})[0] == 201
        assert _call(broker, "GET", "/v2/subscriptions") == (200, [])  # the refused subscription was not stored
    finally:
        broker.stop()
        server.stop()
