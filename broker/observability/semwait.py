"""Time spent waiting for the broker's locks: Orion's `semWait` block of `GET /statistics`
(`-statSemWait`), in seconds accumulated since the start or the last `DELETE /statistics`.

Orion names its semaphores; each of ours is counted under the name of the Orion semaphore that
plays the same part:

- `request`: a write waiting for another write to the same entity in this process (Orion's
  request semaphore serialises requests);
- `dbConnectionPool`: a write waiting for the store's write lock (SQLite's one writer across
  processes; MongoDB's pool waits inside the driver and is not seen here);
- `timeStat`: the statistics' lock; `metrics`: the metrics' lock;
- `transaction`, `subCache`, `connectionContext`: we have no such lock (transaction ids are
  UUIDs, the subscription cache is read without a lock in one event loop, notifications share
  no per-connection context), so nothing ever waits there and they stay 0.

One process-wide instance (`SEM_WAIT`), as Orion's counters are process-wide; measuring costs
two clock readings a lock, and is skipped unless the flag turned it on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

# Orion's names, in Orion's rendering order
NAMES = ("request", "dbConnectionPool", "transaction", "subCache", "connectionContext", "timeStat", "metrics")


class _Lock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...


class SemWait:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.enabled = False
        self._guard = threading.Lock()  # the totals' own lock (never measured: it is held for an addition)
        self._totals = dict.fromkeys(NAMES, 0.0)

    def add(self, name: str, seconds: float) -> None:
        """`seconds` more spent waiting for the lock `name` (one of NAMES)."""
        if self.enabled and seconds > 0:
            with self._guard:
                self._totals[name] += seconds

    def holding(self, name: str, lock: _Lock) -> contextlib.AbstractContextManager[Any]:
        """`with lock:`, counting the time it took to get the lock under `name` (unmeasured, the
        lock itself: this sits on every request's path)."""
        return self._measured(name, lock) if self.enabled else lock  # type: ignore[return-value]

    @contextlib.contextmanager
    def _measured(self, name: str, lock: _Lock) -> Iterator[None]:
        started = self.clock()
        lock.acquire()
        self.add(name, self.clock() - started)
        try:
            yield
        finally:
            lock.release()

    def to_json(self) -> dict[str, Any]:
        with self._guard:
            return {name: self._totals[name] for name in NAMES}

    def reset(self) -> None:
        with self._guard:
            self._totals = dict.fromkeys(NAMES, 0.0)


SEM_WAIT = SemWait()
