"""The serving process's side of the access-log writer process (`log_writer_process`).

`add` hands one append's records to the child: the frame is written to its pipe before `add`
returns, so a read's disclosures are on their way before its answer leaves, and they survive a
crash of this process (the child reads its input to the end and commits it). A write that cannot
go at once (the pipe is full) waits in `overflow` for a sender thread, so the event loop never
blocks on the child. Frames stay in `unacked` until the child says they are committed; if the
child dies, it is started again and they are sent again, and it skips the ones it had committed
(see the protocol there). `now=True` gives a future that settles at the commit; only then, and
for `flush`, does the child acknowledge at once (otherwise at a commit `ACK_INTERVAL` or more after
its last acknowledgement).

The child is started on the first append, so a store that never logs never starts it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from typing import Any

import orjson

from broker.logs import event
from broker.storage.port import StorageUnavailable
from broker.storage.sqlite.log_writer_process import encode

RESTART_DELAY = 1.0  # seconds before starting again a child that died this soon after its start
STOP_TIMEOUT = 30.0
PIPE_SIZE = 1 << 20  # bytes the kernel may hold for the child (Linux; the default is 64 KiB)
_F_SETPIPE_SZ = 1031

Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _settle_all(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in waiters:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


class LogWriter:
    def __init__(self, path: str) -> None:
        self._path = path
        self._token = uuid.uuid4().hex  # names this writer's commit mark in the store
        self._changed = threading.Condition(threading.Lock())
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._restarting = False
        self._closing = False
        self._sender: threading.Thread | None = None
        self._acks: threading.Thread | None = None
        self._next = 0
        self._unacked: deque[tuple[int, bytes]] = deque()
        self._waiters: dict[int, list[Waiter]] = {}
        self._overflow = bytearray()
        self.commits = 0  # transactions the child committed, for tests and metrics

    # -- the event loop's side ---------------------------------------------------------------
    def add(self, tenant: str, records: list[dict[str, Any]], *, now: bool) -> asyncio.Future[None] | None:
        """Hand the records over, in order; with `now`, a future settling once they are committed."""
        with self._changed:
            return self._hand_over(tenant, records, wait=now)

    async def flush(self) -> None:
        """Wait until everything handed over so far is committed (or has failed, which is logged)."""
        with self._changed:
            if not self._unacked or self._closing:
                return
            fut = self._hand_over("", [], wait=True)  # asks the child to say how far it is
        try:
            await asyncio.shield(fut)
        except Exception:  # reported when it failed; a read of the log goes on without them
            pass

    async def close(self) -> None:
        """Commit what was handed over, then stop the child (end of its input) and the threads."""
        await self.flush()
        with self._changed:
            self._closing = True
            proc = self._proc
            self._changed.notify_all()
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
        for thread in (self._acks, self._sender):
            if thread is not None:
                await asyncio.to_thread(thread.join, STOP_TIMEOUT)

    # -- the pipe (called with the lock held) ------------------------------------------------
    def _hand_over(self, tenant: str, records: list[dict[str, Any]], *, wait: bool) -> asyncio.Future[None] | None:
        if self._closing:
            raise StorageUnavailable("the store is closed")
        number = self._next + 1
        frame = encode(number, tenant, records, ack=wait)  # raises on a record that is not JSON: nothing sent
        self._next = number
        self._unacked.append((number, frame))
        fut = None
        if wait:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            self._waiters[number] = [(loop, fut)]
        if self._proc is None and not self._restarting:
            self._start()
        elif self._proc is not None:
            self._send(frame)
        return fut

    def _start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "broker.runtime.log_writer", self._path, self._token],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        os.set_blocking(fd, False)
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass
        self._proc, self._started = proc, time.monotonic()
        self._overflow = bytearray(b"".join(frame for _, frame in self._unacked))  # all again: it skips the committed
        self._acks = threading.Thread(target=self._read_acks, args=(proc,), name="access-log-acks", daemon=True)
        self._acks.start()
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_overflow, name="access-log-sender", daemon=True)
            self._sender.start()
        self._write_overflow(proc)

    def _send(self, frame: bytes) -> None:
        if self._overflow:
            self._overflow += frame
            self._changed.notify_all()
            return
        assert self._proc is not None and self._proc.stdin is not None
        try:
            written = os.write(self._proc.stdin.fileno(), frame)
        except BlockingIOError:
            written = 0
        except OSError:  # the child is gone: its ack reader starts it again and sends everything
            return
        if written < len(frame):
            self._overflow += frame[written:]
            self._changed.notify_all()

    def _write_overflow(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is None or proc.stdin.closed:
            return
        try:
            written = os.write(proc.stdin.fileno(), self._overflow) if self._overflow else 0
        except BlockingIOError:
            written = 0
        except OSError:
            self._overflow.clear()  # gone: sent again whole to the next child
            return
        del self._overflow[:written]
        if self._overflow:
            self._changed.notify_all()

    # -- threads -----------------------------------------------------------------------------
    def _send_overflow(self) -> None:
        """Write what the pipe could not take at once, as the child makes room."""
        while True:
            with self._changed:
                while not (self._overflow and self._proc is not None) and not self._closing:
                    self._changed.wait()
                if self._closing and not (self._overflow and self._proc is not None):
                    return
                proc = self._proc
            assert proc is not None and proc.stdin is not None
            try:
                select.select([], [proc.stdin], [], 0.5)
            except (OSError, ValueError):
                pass
            with self._changed:
                if proc is self._proc:
                    self._write_overflow(proc)

    def _read_acks(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = orjson.loads(line)
            if "failed" in message:
                event(logging.ERROR, "access log append failed", error=message.get("error"))
                self._settle(message["failed"], StorageUnavailable(f"access log append failed: {message.get('error')}"))
            elif "ok" in message:
                self.commits += message["commits"]
                self._settle(message["ok"], None)
            else:
                self._settle(message.get("ready", 0), None)
        status = proc.wait()
        with self._changed:
            if self._proc is proc:
                self._proc = None
                self._overflow.clear()
            if self._closing:
                return
            self._restarting = True
        event(logging.ERROR, "access-log writer process stopped; starting it again", status=status)
        if time.monotonic() - self._started < RESTART_DELAY:
            time.sleep(RESTART_DELAY)
        self._restart()

    def _restart(self) -> None:
        while True:
            with self._changed:
                if self._closing:
                    self._restarting = False
                    return
                try:
                    self._start()
                except OSError as exc:
                    error: OSError | None = exc
                else:
                    self._restarting = False
                    return
            event(logging.ERROR, "access-log writer process cannot start", error=repr(error))
            self._fail_waiters(StorageUnavailable(f"access-log writer cannot start: {error}"))
            time.sleep(RESTART_DELAY)

    def _settle(self, upto: int, error: BaseException | None) -> None:
        with self._changed:
            settled: list[Waiter] = []
            while self._unacked and self._unacked[0][0] <= upto:
                number, _ = self._unacked.popleft()
                settled += self._waiters.pop(number, ())
        self._wake(settled, error)

    def _fail_waiters(self, error: BaseException) -> None:
        with self._changed:
            settled = [w for waiters in self._waiters.values() for w in waiters]
            self._waiters.clear()
        self._wake(settled, error)

    @staticmethod
    def _wake(settled: list[Waiter], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for loop, fut in settled:
            by_loop.setdefault(loop, []).append(fut)
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, futures, error)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass
