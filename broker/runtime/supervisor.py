"""`python -m broker -workers N`: N serving processes on one port and one store, under this one.

Each child (`broker.runtime.child`) binds the port with SO_REUSEPORT, so the kernel spreads new
connections over them. They coordinate only through the store, as Orion's processes do: the
subscription cache follows the store's version, throttling windows are opened in the store, and
notifications are sent by one deliverer per subscription: on SQLite the single delivery worker
this process starts, on MongoDB whichever child holds the subscription's lease.

SIGTERM or SIGINT stops every child with SIGTERM and exits 0 once they are gone. A child that
dies while serving is logged (ERROR, with its exit status) and started again; one that exits
within STARTUP_GRACE seconds of its start could not start (busy port, unreachable database): the
others are stopped and this process exits 1, as a single broker that cannot start does.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from broker.config import Config
from broker.logs import event
from broker.runtime import worker
from broker.storage.factory import uses_mongo

STARTUP_GRACE = 5.0
STOP_TIMEOUT = 10.0
POLL_SECONDS = 0.1


@dataclass
class Child:
    role: str  # "broker" or "delivery"
    spawn: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes]
    started: float

    @classmethod
    def start(cls, role: str, spawn: Callable[[], subprocess.Popen[bytes]]) -> Child:
        return cls(role, spawn, spawn(), time.monotonic())

    def restart(self) -> None:
        self.proc = self.spawn()
        self.started = time.monotonic()


def _broker(argv: Sequence[str]) -> Callable[[], subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "broker.runtime.child", str(os.getpid()), *argv]
    return lambda: subprocess.Popen(command, stdin=subprocess.DEVNULL)


def prepare_store(config: Config) -> None:
    """On SQLite, create or upgrade the file once, before the processes that share it open it:
    migrations racing each other on a new file fail ("duplicate column", "database is locked")."""
    if uses_mongo(config):
        return
    from broker.storage.sqlite.connection import open_connection  # no query functions: no shapely here
    from broker.storage.sqlite.schema import migrate

    os.makedirs(os.path.dirname(os.path.abspath(config.dbPath)), exist_ok=True)
    conn = open_connection(config.dbPath)
    try:
        migrate(conn)
    finally:
        conn.close()


def supervise(config: Config, argv: Sequence[str]) -> int:
    """Run the children until a signal stops them; the exit status of `python -m broker`."""
    import sqlite3

    try:
        prepare_store(config)
    except (OSError, sqlite3.Error) as exc:
        event(logging.CRITICAL, "cannot start", error=f"cannot open database {config.dbPath}: {exc}")
        return 1
    signals: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: signals.append(signum))
    children = [Child.start("broker", _broker(argv)) for _ in range(config.workers)]
    if not uses_mongo(config):
        children.append(Child.start("delivery", lambda: worker.spawn(config)))
    event(logging.INFO, "supervising", workers=config.workers, pids=[c.proc.pid for c in children])
    status = 0
    while not signals and status == 0:
        time.sleep(POLL_SECONDS)
        for child in children:
            code = child.proc.poll()
            if code is None or signals:
                continue
            if time.monotonic() - child.started < STARTUP_GRACE:
                event(logging.CRITICAL, "cannot start", role=child.role, child=child.proc.pid, status=code)
                status = 1
                break
            event(logging.ERROR, "process exited, restarting it", role=child.role, child=child.proc.pid, status=code)
            child.restart()
    _stop(children)
    return status


def _stop(children: list[Child]) -> None:
    """SIGTERM to every child still running, SIGKILL to those still there after STOP_TIMEOUT."""
    for child in children:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            event(logging.ERROR, "process did not stop, killing it", role=child.role, child=child.proc.pid)
            child.proc.kill()
            child.proc.wait()
