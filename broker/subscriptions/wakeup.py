"""Wake the delivery process as soon as a write with notifications commits.

On SQLite the notifications are sent by a separate process (runtime/worker.py). Each serving
process, right after a commit that stored notifications, sends one empty UNIX datagram to the
delivery process, which looks at the outbox at once: no polling interval lies on the path from an
update's answer to its notification. The address is in Linux's abstract namespace, named after the
store's file, so it leaves nothing on disk and needs no cleanup. A datagram that cannot be sent
(the delivery process is restarting, its queue is full: it is awake already) is simply dropped: the
delivery process also looks at the outbox every POLL seconds, so nothing waits longer than that.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import sys
from collections.abc import Callable

from broker.logs import event


def address_for(db_path: str) -> str | None:
    """The delivery process's address for the store at `db_path`; None where there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(os.path.realpath(db_path).encode()).hexdigest()[:32]
    return f"\0area-broker-delivery-{digest}"


class WakeSender:
    """The serving side: `send()` after a commit; never blocks, never raises."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def send(self) -> None:
        try:
            self._sock.sendto(b"", self.address)
        except OSError:  # no listener (restarting) or its queue is full (it is awake): the poll covers it
            pass

    def close(self) -> None:
        self._sock.close()


class WakeListener:
    """The delivery side: calls `on_wake` (on the event loop) whenever datagrams arrive."""

    def __init__(self, address: str, on_wake: Callable[[], None]) -> None:
        self.address = address
        self._on_wake = on_wake
        self._sock: socket.socket | None = None

    def start(self) -> bool:
        """False when the address is taken (another delivery process for this file): polling only."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.address)
        except OSError as exc:
            sock.close()
            event(logging.WARNING, "delivery wake-up address taken, polling only", error=str(exc))
            return False
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._drain)
        return True

    def _drain(self) -> None:
        assert self._sock is not None
        try:
            while True:
                self._sock.recv(1)
        except (BlockingIOError, InterruptedError):
            pass
        self._on_wake()

    def close(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
