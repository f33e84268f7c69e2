"""Which outbox records each subscription still owes, kept in memory by the process that delivers.

The outbox table has no index by subscription: every write that notifies would update it at as
many places as subscriptions it matches, the largest cost of a write with subscriptions. Instead
the delivering process reads new records in id order (`id > tail`: ids grow with commit order,
since writers take the file's lock before numbering) and keeps, per subscription, its pending ids
in order with their due times. Records deleted by other processes (a deleted subscription, an
erased resident) are noticed when fetched and forgotten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class OutboxIndex:
    def __init__(self) -> None:
        self.tail = 0  # the highest record id read so far
        self._by_sub: dict[str, deque[int]] = {}
        self._due: dict[int, float] = {}
        self._sub_of: dict[int, str] = {}

    def add(self, rows: Iterable[tuple[int, str, float]]) -> None:
        """New records `(id, subscription, due)` in id order; those at or below `tail` are known already."""
        for record_id, sub_id, due in rows:
            if record_id <= self.tail:
                continue
            self._by_sub.setdefault(sub_id, deque()).append(record_id)
            self._due[record_id] = due
            self._sub_of[record_id] = sub_id
            self.tail = record_id

    def due_subscriptions(self, now: float) -> list[str]:
        """Subscriptions whose oldest pending record is due, oldest head first."""
        heads = [(ids[0], sub_id) for sub_id, ids in self._by_sub.items() if ids and self._due[ids[0]] <= now]
        return [sub_id for _, sub_id in sorted(heads)]

    def pending(self, sub_id: str, limit: int) -> list[int]:
        ids = self._by_sub.get(sub_id)
        if not ids:
            return []
        return [ids[i] for i in range(min(limit, len(ids)))]

    def set_due(self, record_id: int, due: float) -> None:
        if record_id in self._due:
            self._due[record_id] = due

    def forget(self, record_ids: Iterable[int]) -> None:
        """Records delivered, or gone from the table."""
        for record_id in record_ids:
            sub_id = self._sub_of.pop(record_id, None)
            if sub_id is None:
                continue
            del self._due[record_id]
            ids = self._by_sub[sub_id]
            if ids and ids[0] == record_id:
                ids.popleft()  # the usual case: delivery is in order
            else:
                ids.remove(record_id)
            if not ids:
                del self._by_sub[sub_id]

    def forget_subscription(self, sub_id: str) -> None:
        for record_id in self._by_sub.pop(sub_id, ()):
            self._due.pop(record_id, None)
            self._sub_of.pop(record_id, None)

    def __len__(self) -> int:
        return len(self._due)
