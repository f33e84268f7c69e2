"""Copies the write-ahead log back into the database file on its own thread.

By default SQLite does this inside the commit that takes the log past 1,000 pages: that commit, and
every write queued behind it on the store's write lock, waited for about a thousand page writes and
an fsync of the database file, the write stalls of tens of milliseconds that `make bench` showed at
p99 under a steady update load. The writer's connection turns that off
(`PRAGMA wal_autocheckpoint=0`) and wakes this thread after its commits instead. A PASSIVE
checkpoint neither waits for nor blocks readers and writers, so the bulk of the copying runs beside
them. It cannot finish while they keep appending, though, and SQLite starts the log over from its
beginning only once all of it was copied: alone, the log grew to 750 MB in a ten-second create run.
So a second pass takes the store's write lock and copies what was appended during the first (a few
hundred pages at most, about a millisecond), and the next writer can start the log over.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from broker.storage.sqlite.connection import WriteLock, open_connection

PAUSE_S = 0.05  # commits within this time share one checkpoint


class Checkpointer:
    def __init__(self, path: str) -> None:
        self._path = path
        self._dirty = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # for tests

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit added pages to the log."""
        self._dirty.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._dirty.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn = open_connection(self._path)
        lock = WriteLock(self._path)
        try:
            while True:
                self._dirty.wait()
                if self._stopping:
                    break
                time.sleep(PAUSE_S)
                self._dirty.clear()
                if self._stopping:  # asked while we slept: the clear above took its wake-up
                    break
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # the bulk, beside the writers
                    with lock:  # what they appended meanwhile: then the log can start over
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:  # another process's checkpoint is running: it copies ours too
                    pass
        finally:
            conn.close()
            lock.close()
