"""Notification counters of the delivery worker process, relayed to the serving process.

On SQLite another process sends the notifications (`broker.runtime.worker`); it counts its
attempts here and writes them, every RELAY_SECONDS when they changed, to a small JSON file beside
the database (replaced atomically). The serving process reads that file when it renders
`/statistics` or `/admin/metrics`, so its numbers include the notifications sent for it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import orjson

from broker.observability.metrics import (
    TRANS_OUT,
    TRANS_OUT_ERRORS,
    TRANS_OUT_REQ_SIZE,
    TRANS_OUT_RESP_SIZE,
    Counts,
    Metrics,
    subservice_key,
)

RELAY_SECONDS = 0.5


def relay_path(db_path: str) -> str:
    return db_path + ".delivery-counters.json"


@dataclass
class Delivered:
    """Attempts so far: all, delivered, failed, and their seconds waiting in the outbox."""

    pid: int = 0
    sent: int = 0
    ok: int = 0
    error: int = 0
    waited: float = 0.0
    metrics: dict[str, dict[str, Counts]] = field(default_factory=dict)

    def minus(self, base: Delivered) -> Delivered:
        """What was counted since `base` (all of it when `base` is another worker's, or none)."""
        if base.pid != self.pid:
            return self
        metrics: dict[str, dict[str, Counts]] = {}
        for service, subs in self.metrics.items():
            for sub, counts in subs.items():
                before = base.metrics.get(service, {}).get(sub, {})
                metrics.setdefault(service, {})[sub] = {k: v - before.get(k, 0) for k, v in counts.items()}
        return Delivered(
            self.pid,
            self.sent - base.sent,
            self.ok - base.ok,
            self.error - base.error,
            self.waited - base.waited,
            metrics,
        )


class DeliveryCounters:
    """The worker's recorder for the notification hook."""

    def __init__(self) -> None:
        self.state = Delivered(pid=os.getpid())
        self._metrics = Metrics()
        self.changed = False

    def notification(
        self, tenant: str, service_path: str, sent_bytes: int, ok: bool, waited: float, received_bytes: int = 0
    ) -> None:
        s = self.state
        s.sent += 1
        s.ok += ok
        s.error += not ok
        s.waited += max(0.0, waited)
        values = {TRANS_OUT: 1, TRANS_OUT_REQ_SIZE: sent_bytes, TRANS_OUT_RESP_SIZE: received_bytes}
        if not ok:
            values[TRANS_OUT_ERRORS] = 1
        self._metrics.add(tenant, subservice_key(service_path), values)
        self.changed = True

    def document(self) -> bytes:
        s = self.state
        return orjson.dumps(
            {
                "pid": s.pid,
                "sent": s.sent,
                "ok": s.ok,
                "error": s.error,
                "waited": s.waited,
                "metrics": self._metrics.snapshot(),
            }
        )


def write(path: str, data: bytes) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


async def publish(counters: DeliveryCounters, path: str) -> None:
    """Write the counters now (a file left by an earlier run no longer counts), then whenever they
    changed, until cancelled (then once more)."""
    await asyncio.to_thread(write, path, counters.document())
    try:
        while True:
            await asyncio.sleep(RELAY_SECONDS)
            if counters.changed:
                counters.changed = False
                await asyncio.to_thread(write, path, counters.document())
    finally:
        if counters.changed:
            write(path, counters.document())


def read(path: str) -> Delivered | None:
    """The worker's last counters; None when there are none (no worker, nothing sent yet)."""
    try:
        with open(path, "rb") as f:
            doc: dict[str, Any] = orjson.loads(f.read())
        return Delivered(
            int(doc["pid"]), int(doc["sent"]), int(doc["ok"]), int(doc["error"]), float(doc["waited"]), doc["metrics"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
