"""The registrations forwarding consults, per tenant, read from the store at most `max_age` ago.

Requests read registrations on every forwarding decision, so they are kept in memory: a change
made through this process drops the copy at once (`forget`), one made through another process is
seen within `max_age` (half a second), without a cluster protocol.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from broker.ngsi.registration import Registration
from broker.ngsi.selection import Page
from broker.storage.port import Storage

MAX_AGE = 0.5  # seconds: the bound on how late another process's change is seen
PAGE = 1000


class RegistrationDirectory:
    def __init__(self, storage: Storage, *, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic):
        self.storage = storage
        self.max_age = max_age
        self.clock = clock
        self._held: dict[str, tuple[float, list[Registration]]] = {}
        self._loading: dict[str, asyncio.Future[list[Registration]]] = {}
        self._generation: dict[str, int] = {}  # moves on every `forget`: a read begun before is not kept

    async def registrations(self, tenant: str) -> list[Registration]:
        """Every registration of the tenant, in creation order (one store read serves concurrent callers)."""
        held = self._held.get(tenant)
        if held is not None and self.clock() - held[0] <= self.max_age:
            return held[1]
        loading = self._loading.get(tenant)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[list[Registration]] = asyncio.get_running_loop().create_future()
        self._loading[tenant] = future
        try:
            read_at, generation = self.clock(), self._generation.get(tenant, 0)
            regs = await self._read(tenant)
            if self._generation.get(tenant, 0) == generation:
                self._held[tenant] = (read_at, regs)
            future.set_result(regs)
            return regs
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody is warned of a lost exception
            raise
        finally:
            if self._loading.get(tenant) is future:
                del self._loading[tenant]

    def forget(self, tenant: str) -> None:
        """A registration of the tenant changed here: the next request reads them again."""
        self._held.pop(tenant, None)
        self._loading.pop(tenant, None)  # a read under way may miss the change: later callers read anew
        self._generation[tenant] = self._generation.get(tenant, 0) + 1

    async def _read(self, tenant: str) -> list[Registration]:
        out: list[Registration] = []
        while True:
            page, total = await self.storage.find_registrations(tenant, Page(limit=PAGE, offset=len(out)))
            out.extend(page)
            if not page or len(out) >= total:
                return out
