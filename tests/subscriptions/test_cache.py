"""The subscription cache stays right when a reload and a save overlap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.personal.guard import PersonalGuard
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.notifier import Notifier


class SlowLoad:
    """The store, except that reading all subscriptions returns only when `gate` opens."""

    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage
        self.reading = asyncio.Event()
        self.gate = asyncio.Event()

    async def load_subscriptions(self) -> list[Subscription]:
        rows = await self._storage.load_subscriptions()
        self.reading.set()
        await self.gate.wait()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


async def test_a_subscription_saved_during_a_reload_stays_in_the_cache(tmp_path: Path) -> None:
    storage = SqliteStorage(str(tmp_path / "c.db"))
    await storage.start()
    try:
        slow = SlowLoad(storage)
        notifier = Notifier(slow, PersonalGuard(slow))  # type: ignore[arg-type]
        reload = asyncio.create_task(notifier.load())
        await slow.reading.wait()  # the reload has read the store, without the new subscription
        sub = Subscription(
            id="5f00000000000000000000aa",
            tenant="",
            service_path="/#",
            entities=(EntityPattern(id_pattern=".*", type="Room"),),
            condition=Condition(),
            notification=Notification(target=HttpTarget(url="http://127.0.0.1:9/n")),
        )
        save = asyncio.create_task(notifier.save(sub))
        await asyncio.sleep(0.1)
        slow.gate.set()
        await asyncio.gather(reload, save)
        assert notifier.get("", sub.id) is not None
    finally:
        await storage.close()


def test_no_cache_flag_and_variable_are_accepted() -> None:
    from broker.config import load_config

    assert load_config(["-noCache"], {}).noCache is True
    assert load_config([], {"ORION_NO_CACHE": "true"}).noCache is True
    assert load_config([], {}).noCache is False


async def test_without_cache_a_subscription_another_process_created_is_matched_at_once(tmp_path: Path) -> None:
    from broker.ngsi.changes import ChangeEvent
    from broker.ngsi.model import Attribute, Entity

    storage = SqliteStorage(str(tmp_path / "c.db"))
    await storage.start()
    try:
        other, cached, uncached = (
            Notifier(storage, PersonalGuard(storage)),
            Notifier(storage, PersonalGuard(storage)),
            Notifier(storage, PersonalGuard(storage), no_cache=True),
        )
        for n in (cached, uncached):
            await n.load()
        sub = Subscription(
            id="5f00000000000000000000ab",
            tenant="",
            service_path="/#",
            entities=(EntityPattern(id_pattern=".*", type="Room"),),
            condition=Condition(),
            notification=Notification(target=HttpTarget(url="http://127.0.0.1:9/n")),
        )
        await other.save(sub)
        event = ChangeEvent("", None, Entity("R1", "Room", "/", {"t": Attribute("Number", 1)}), ("t",))
        assert await cached.outbox_for([event]) == []  # until its next periodic refresh
        owed = await uncached.outbox_for([event])
        assert [r.subscription_id for r in owed] == [sub.id]
    finally:
        await storage.close()


async def test_a_oneshot_is_owed_once_by_concurrent_writes_and_again_after_a_refused_one(tmp_path: Path) -> None:
    from broker.ngsi.changes import ChangeEvent
    from broker.ngsi.model import Attribute, Entity

    storage = SqliteStorage(str(tmp_path / "c.db"))
    await storage.start()
    try:
        notifier = Notifier(storage, PersonalGuard(storage))
        sub = Subscription(
            id="5f00000000000000000000ac",
            tenant="",
            service_path="/#",
            entities=(EntityPattern(id_pattern=".*", type="Room"),),
            condition=Condition(),
            notification=Notification(target=HttpTarget(url="http://127.0.0.1:9/n")),
            status="oneshot",
        )
        await notifier.save(sub)

        def created(entity_id: str) -> ChangeEvent:
            return ChangeEvent("", None, Entity(entity_id, "Room", "/", {"t": Attribute("Number", 1)}), ("t",))

        first = await notifier.outbox_for([created("R1"), created("R2")])  # one batch, two entities
        second = await notifier.outbox_for([created("R3")])  # a concurrent write, before the first commits
        assert len(first) == 1 and second == []
        await notifier.abandoned(first)  # the store refused the first write: its retry owes it again
        retried = await notifier.outbox_for([created("R1")])
        assert len(retried) == 1
        await notifier.committed(retried)
        assert notifier.get("", sub.id).status == "inactive"
        assert await notifier.outbox_for([created("R4")]) == []
    finally:
        await storage.close()
