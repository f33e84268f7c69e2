"""The outbox-drained signal: wait until every owed notification is settled, instead of guessing a sleep.

The dispatcher numbers its rounds. `DrainWatch.wait()` returns once a round that began after the
call found nothing left to send: no outbox record pending (due now or later) and no delivery in
flight. A write acknowledged before the call is then settled: sent and answered, dropped by the
consent re-check, or given up. Tests use it before asserting that nothing (more) arrived; the
check costs the dispatcher one outbox read per round, and only while someone waits.
"""

from __future__ import annotations

import asyncio


class DrainWatch:
    def __init__(self, wake: asyncio.Event) -> None:
        self._wake = wake  # starts a dispatcher round now rather than at its next poll
        self._round = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def wanted(self) -> bool:
        """Someone waits: the dispatcher checks whether the outbox is empty after its rounds."""
        return bool(self._waiters)

    def begin_round(self) -> int:
        """The dispatcher starts a round (before it reads the outbox); its number."""
        self._round += 1
        return self._round

    def found_empty(self, round_no: int) -> None:
        """Round `round_no` found nothing pending: release whoever waited from before it began."""
        waiting = []
        for since, future in self._waiters:
            if round_no > since:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((since, future))
        self._waiters = waiting

    async def wait(self, timeout: float = 30.0) -> None:
        """Return once the outbox is drained; TimeoutError after `timeout` seconds (a receiver still
        down, or no dispatcher running in this process)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._round, future)
        self._waiters.append(entry)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
