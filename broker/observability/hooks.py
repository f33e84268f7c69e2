"""How the notification side reports its attempts without knowing who counts them.

The application registers a recorder for its notifier; the dispatcher calls `notification_attempt`
with that notifier after every attempt. A notifier nobody registered (the delivery worker process,
a test's bare dispatcher) is simply not counted.
"""

from __future__ import annotations

from typing import Protocol
from weakref import WeakKeyDictionary


class Recorder(Protocol):
    def notification(
        self, tenant: str, service_path: str, sent_bytes: int, ok: bool, waited: float, received_bytes: int = 0
    ) -> None: ...


_RECORDERS: WeakKeyDictionary[object, Recorder] = WeakKeyDictionary()


def register(owner: object, recorder: Recorder) -> None:
    _RECORDERS[owner] = recorder


def unregister(owner: object) -> None:
    _RECORDERS.pop(owner, None)


def notification_attempt(
    owner: object, tenant: str, service_path: str, sent_bytes: int, ok: bool, waited: float, received_bytes: int = 0
) -> None:
    """One notification attempt of `owner`'s subscriptions: `ok` when delivered, `waited` seconds
    after its change was written, `received_bytes` the size its answer announced."""
    recorder = _RECORDERS.get(owner)
    if recorder is not None:
        recorder.notification(tenant, service_path, sent_bytes, ok, waited, received_bytes)
