"""The subscription cache stays right when a reload and a save overlap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.model import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.subscriptions.notifier import Notifier


class SlowLoad:
    """The store, except that reading all subscriptions returns only when `gate` opens."""

    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage
        self.reading = asyncio.Event()
        self.gate = asyncio.Event()

    async def load_subscriptions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
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
        notifier = Notifier(slow)  # type: ignore[arg-type]
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
