"""The embedded store: one SQLite file in WAL mode, writes group-committed by one writer thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from broker.storage.sqlite.backend import SqliteStorage

__all__ = ["SqliteStorage"]


def __getattr__(name: str) -> Any:
    # imported on first use, so that the access-log writer process (which runs a module of this
    # package) does not load the query engine and its geometry library
    if name == "SqliteStorage":
        from broker.storage.sqlite.backend import SqliteStorage

        return SqliteStorage
    raise AttributeError(name)
