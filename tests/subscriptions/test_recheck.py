"""The consent re-check at delivery (`recheck`): a queued notification goes out as things stand now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from broker.ngsi.changes import ChangeEvent
from broker.ngsi.model import Attribute, Entity
from broker.personal.guard import PersonalGuard
from broker.storage.port import OutboxRecord
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.payload import snapshot
from broker.subscriptions.recheck import Cleared, recheck
from tests.subscriptions.test_delivery import _subscription


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    storage = SqliteStorage(str(tmp_path / "r.db"))
    await storage.start()
    yield storage
    await storage.close()


def _record(resident: object = "alice", subject: str | None = None) -> OutboxRecord:
    entity = Entity(
        "HR1",
        "HealthRecord",
        attrs={"refResident": Attribute("Text", resident), "steps": Attribute("Number", 5)},
    )
    payload = snapshot(ChangeEvent("", None, entity, ("refResident", "steps")))
    return OutboxRecord("", "5f0000000000000000000001", payload, subject=subject)


async def test_open_data_goes_out_unchanged(store):
    record = _record()
    cleared = await recheck(PersonalGuard(store), record, _subscription("http://127.0.0.1:9/n"))
    assert cleared == Cleared(record.payload)


async def test_a_type_declared_personal_since_the_change_is_checked_and_refused_without_consent(store):
    await store.put_personal_type("", "HealthRecord", "refResident")
    sub = replace(_subscription("http://127.0.0.1:9/n"), owner="svc-clinic", owner_roles=("service",))
    assert await recheck(PersonalGuard(store), _record(), sub) is None


async def test_a_personal_notification_without_an_owner_is_never_sent(store):
    await store.put_personal_type("", "HealthRecord", "refResident")
    sub = _subscription("http://127.0.0.1:9/n")  # created without authentication
    assert await recheck(PersonalGuard(store), _record(subject="alice"), sub) is None
    assert await recheck(PersonalGuard(store), _record(resident=7), sub) is None  # no usable subject
