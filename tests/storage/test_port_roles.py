"""Both backends play every role of the storage port, and exactly one of the two access-log appends."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from broker.storage import port
from broker.storage.mongo import MongoStorage
from broker.storage.sqlite import SqliteStorage

ROLES = (
    port.Lifecycle,
    port.EntityStore,
    port.SubscriptionStore,
    port.LeaseStore,
    port.RegistrationStore,
    port.PersonalTypeStore,
    port.ConsentStore,
    port.AccessLogReads,
    port.SettingsStore,
)


def _methods(protocol: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(protocol, inspect.isfunction) if not name.startswith("_")}


def test_storage_is_the_union_of_the_roles_and_nothing_more():
    assert _methods(port.Storage) == set().union(*(_methods(role) for role in ROLES))


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_each_backend_offers_every_method_of_every_role_as_a_coroutine(backend: str, tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "x.db")) if backend == "sqlite" else MongoStorage("mongodb://127.0.0.1:1/")
    for role in ROLES:
        for name in _methods(role):
            assert inspect.iscoroutinefunction(getattr(store, name)), (backend, role.__name__, name)


def test_sqlite_appends_serially_and_mongodb_conditionally(tmp_path: Path):
    sqlite, mongo = SqliteStorage(str(tmp_path / "x.db")), MongoStorage("mongodb://127.0.0.1:1/")
    assert isinstance(sqlite, port.SerialAccessLog) and not isinstance(sqlite, port.ConditionalAccessLog)
    assert isinstance(mongo, port.ConditionalAccessLog) and not isinstance(mongo, port.SerialAccessLog)
