"""Where a request spends its time, for the `timing` block of `GET /statistics` (`-statTiming`).

Orion reports, besides each request's `total`, the time spent in its modules; we measure the same
moments under Orion's names:

- `jsonV2Parse`: reading the request's JSON body;
- `mongoReadWait`, `mongoWriteWait`: waiting for the store's reads and writes (any backend; each
  call to the storage port, from the request's handler);
- `render`: writing the answer's JSON.

Orion's other modules (NGSIv1 parsing, mongoBackend's own logic, JEXL in notifications, which are
rendered by the delivery side here) are not measured and, as in Orion when a module is not used,
not shown. Times gather in a per-request context (a ContextVar set by the HTTP layer); outside a
request (the notifier, the delivery worker) nothing is measured.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

# Orion's timing names, in Orion's rendering order (`total` last)
MODULES = (
    "jsonV1Parse",
    "jsonV2Parse",
    "mongoBackend",
    "mongoReadWait",
    "mongoWriteWait",
    "mongoCommandWait",
    "exprJexlCtxBld",
    "exprJexlEval",
    "render",
)

_TIMES: ContextVar[dict[str, float] | None] = ContextVar("request_module_times", default=None)

# storage port methods that write (every other coroutine method reads)
_WRITE_PREFIXES = ("write_", "insert_", "replace_", "delete_", "save_", "put_", "append_", "drop_")
_WRITES = frozenset(
    {
        "finish_notifications",
        "retry_notification",
        "claim_lease",
        "renew_lease",
        "release_lease",
        "open_throttle_window",
    }
)
_NOT_TIMED = frozenset({"start", "close"})


def begin() -> Token[dict[str, float] | None]:
    """A request starts: its module times gather from here."""
    return _TIMES.set({})


def end(token: Token[dict[str, float] | None]) -> dict[str, float]:
    """The request's module times, and the end of its gathering."""
    times = _TIMES.get() or {}
    _TIMES.reset(token)
    return times


def add(module: str, seconds: float) -> None:
    times = _TIMES.get()
    if times is not None:
        times[module] = times.get(module, 0.0) + seconds


@contextlib.contextmanager
def measuring(module: str) -> Iterator[None]:
    """The enclosed code's time, counted under `module` when a request is being timed."""
    if _TIMES.get() is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        add(module, time.perf_counter() - started)


def storage_module(method: str) -> str:
    """Under which of Orion's names a storage port method's time counts."""
    if method in _WRITES or method.startswith(_WRITE_PREFIXES):
        return "mongoWriteWait"
    return "mongoReadWait"


class TimedStorage:
    """A storage backend whose every call (but start and close) is timed, for `-statTiming`."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._storage, name)
        if name in _NOT_TIMED or not inspect.iscoroutinefunction(value):
            return value
        return _timed(value, storage_module(name))


def _timed(method: Callable[..., Any], module: str) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        with measuring(module):
            return await method(*args, **kwargs)

    return call
