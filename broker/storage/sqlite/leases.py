"""Several processes on one file: leases and throttling windows."""

from __future__ import annotations

import sqlite3

from broker.storage.sqlite.engine import SqliteEngine


class SqliteLeases:
    """The port's `LeaseStore`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def claim_lease(self, name: str, owner: str, token: str, until: float, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "INSERT INTO leases(name, owner, token, expires) VALUES(?, ?, ?, ?) ON CONFLICT(name) DO UPDATE"
                    " SET owner = excluded.owner, token = excluded.token, expires = excluded.expires"
                    " WHERE leases.owner = excluded.owner OR leases.expires <= ?",
                    (name, owner, token, until, now),
                ).rowcount
                > 0
            )

        return await self.engine.write(run)

    async def renew_lease(self, name: str, token: str, until: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE leases SET expires = ? WHERE name = ? AND token = ?", (until, name, token)
                ).rowcount
                > 0
            )

        return await self.engine.write(run)

    async def release_lease(self, name: str, token: str) -> None:
        await self.engine.write(
            lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND token = ?", (name, token))
        )

    async def open_throttle_window(self, tenant: str, sub_id: str, now: float, throttling: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE subscriptions SET throttled = ? WHERE tenant = ? AND id = ?"
                    " AND (throttled IS NULL OR throttled <= ?)",
                    (now, tenant, sub_id, now - throttling),
                ).rowcount
                > 0
            )

        return await self.engine.write(run)

    async def close_throttle_window(self, tenant: str, sub_id: str, opened: float) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE subscriptions SET throttled = NULL WHERE tenant = ? AND id = ? AND throttled = ?",
                (tenant, sub_id, opened),
            )
        )
