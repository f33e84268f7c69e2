"""Broker-wide settings, in `meta`: the first value stored wins for every process."""

from __future__ import annotations

import sqlite3

from broker.storage.sqlite.engine import SqliteEngine


class SqliteSettings:
    """The port's `SettingsStore`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def setting(self, key: str, default: str) -> str:
        def run(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)", (f"setting:{key}", default))
            return conn.execute("SELECT value FROM meta WHERE key = ?", (f"setting:{key}",)).fetchone()[0]

        return await self.engine.write(run)
