"""The sink of change events: the subscriptions' notifier answers a write's events with the
notifications owed, which the store writes in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from broker.ngsi.changes import ChangeEvent
from broker.storage.port import OutboxRecord


class ChangeSink(Protocol):
    async def outbox_for(self, events: list[ChangeEvent]) -> list[OutboxRecord]:
        """The notifications owed for these changes (written with them)."""
        ...

    async def committed(self, records: Sequence[OutboxRecord]) -> None:
        """Called once the change and its notifications are durable."""
        ...

    async def abandoned(self, records: Sequence[OutboxRecord]) -> None:
        """Called when the store refused the write these records were computed for."""
        ...


class NoSink:
    """No subscriptions: nothing is owed."""

    async def outbox_for(self, events: list[ChangeEvent]) -> list[OutboxRecord]:
        return []

    async def committed(self, records: Sequence[OutboxRecord]) -> None:
        return None

    async def abandoned(self, records: Sequence[OutboxRecord]) -> None:
        return None
