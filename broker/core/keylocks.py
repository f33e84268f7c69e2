"""Per-key asyncio locks: writes to one entity in this process queue up instead of racing.

Optimistic concurrency (versioned writes) keeps entities right across processes; within a process,
taking turns per entity avoids the wasted round trips of conflicting attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Hashable

from broker.observability.semwait import SEM_WAIT


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            started = time.perf_counter()
            async with lock:
                SEM_WAIT.add("request", time.perf_counter() - started)  # Orion's request semaphore
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
