"""A bound on the storage operations one process has in flight, so that an overloaded database
shows as a prompt `StorageBusy` (HTTP 503) instead of an unbounded queue of waiting requests.

A server backend queues what its connection pool cannot take at once (PyMongo's wait queue): under
a load the database cannot follow, every new request would wait there, holding its task and body,
and the process would grow and answer later and later. Past the bound a call fails at once and
does nothing; below it, waits are bounded by the driver's own time-outs (`-dbTimeout`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from broker.storage.port import StorageBusy

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class InFlightLimit:
    """At most `limit` operations at once through `guard`; the next ones raise `StorageBusy`."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self.refused = 0  # calls turned away, for tests and metrics

    def guard(self, fn: F) -> F:
        """`fn` (a coroutine function) counted against the limit; anything else is returned as is."""
        if not inspect.iscoroutinefunction(fn):
            return fn

        @functools.wraps(fn)
        async def limited(*args: Any, **kwargs: Any) -> Any:
            if self.in_flight >= self.limit:
                self.refused += 1
                raise StorageBusy(f"{self.in_flight} database operations already in flight in this process")
            self.in_flight += 1
            try:
                return await fn(*args, **kwargs)
            finally:
                self.in_flight -= 1

        return limited  # type: ignore[return-value]
