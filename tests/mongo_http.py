"""Opt-in: the HTTP tests on the MongoDB backend, `pytest -p tests.mongo_http tests/http`.

The `client` fixtures of tests/conftest.py then build their app on a `MongoStorage` (a fresh
database prefix each) instead of SQLite: FerretDB started here, or `MONGO_URI`. Not part of
`make test` (it doubles the HTTP suite's time); on FerretDB the geo tests fail by design (no
2dsphere operators, no GeoJSON lines or polygons), see the README's Storage section.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.ferretdb import FerretDB, start_ferretdb

_server: FerretDB | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _server
    uri = os.environ.get("MONGO_URI")
    if not uri:
        _server = start_ferretdb(Path(tempfile.mkdtemp(prefix="ferretdb-http-")))
        uri = _server.uri

    import tests.conftest as shared
    from broker.storage.mongo import MongoStorage

    def mongo_instead(_path: Any) -> MongoStorage:
        return MongoStorage(uri, db=f"abh{uuid.uuid4().hex[:12]}")

    shared.SqliteStorage = mongo_instead  # type: ignore[attr-defined,assignment]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _server is not None:
        _server.stop()
