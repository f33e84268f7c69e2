"""A change counter that every process on one store file shares through a small memory-mapped file,
so that a cache of rarely changed rows is checked with a memory read instead of a query.

The counter is odd while a change is in progress. A writer makes it odd inside the transaction that
changes the rows (`begin_change`) and even again once that transaction has ended (`settle`), both
while it holds the store's write lock, so two processes never interleave. A reader that finds it
odd, or finds it moved while it read the rows, does not cache what it read; a writer that dies in
between leaves it odd, and every reader then reads the rows until the next change settles it.
"""

from __future__ import annotations

import mmap
import os
import struct

from broker.storage.sqlite.connection import shared_file

_COUNTER = struct.Struct("<Q")
_SIZE = 4096


class SharedGeneration:
    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        if shared_file(path):
            self._fd = os.open(path + "-generation", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if os.fstat(self._fd).st_size < _SIZE:
                os.ftruncate(self._fd, _SIZE)  # zeros: generation 0, nothing in progress
            self._map: mmap.mmap | bytearray = mmap.mmap(self._fd, _SIZE)
        else:  # a store no other process can open: the counter lives in this process
            self._map = bytearray(_SIZE)
        self._pending = False

    def read(self) -> int:
        return _COUNTER.unpack_from(self._map, 0)[0]

    def begin_change(self) -> None:
        """Inside the writing transaction, under the write lock: the counter becomes odd (and moves)."""
        if self._pending:
            return
        value = self.read()
        _COUNTER.pack_into(self._map, 0, value + 1 if value % 2 == 0 else value + 2)
        self._pending = True

    def settle(self) -> None:
        """After the transaction committed or rolled back, still under the write lock: even again."""
        if self._pending:
            _COUNTER.pack_into(self._map, 0, self.read() + 1)
            self._pending = False

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
