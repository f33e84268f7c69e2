"""The embedded store: one SQLite file in WAL mode, writes group-committed by one writer thread."""

from broker.storage.sqlite.backend import SqliteStorage

__all__ = ["SqliteStorage"]
