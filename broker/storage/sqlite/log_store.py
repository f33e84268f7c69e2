"""The access log on SQLite as the port sees it: appends handed to the writer process
(`log_writer`), which links them with the chain's one rule in its transaction; reads on the
store's readers once what was handed over is committed. The layout is `access_log`'s."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import orjson

from broker.ngsi.selection import Page
from broker.storage.sqlite import access_log
from broker.storage.sqlite.engine import SqliteEngine
from broker.storage.sqlite.log_writer import LogWriter


class SqliteAccessLog:
    """The port's `SerialAccessLog`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine
        self.writer = LogWriter(engine.path)

    async def close(self) -> None:
        """Commit what was handed over and stop the writer process."""
        await self.writer.close()

    async def append_access_log_serially(
        self, tenant: str, records: list[dict[str, Any]], *, wait: bool = True
    ) -> None:
        """Linked and appended by the writer process (`log_writer_process`), in its transaction."""
        if not records:
            return
        done = self.writer.add(tenant, records, now=wait)
        if done is not None:
            await asyncio.shield(done)

    async def read_access_log(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        since: float | None = None,
        until: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        await self.writer.flush()  # records appended before are committed
        return await self.engine.read(
            lambda conn: access_log.read(conn, tenant, subject, recipient, since, until, page)
        )

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        await self.writer.flush()  # records appended before are committed
        return await self.engine.read(lambda conn: access_log.index_faults(conn, tenant))

    async def access_log_head(self, tenant: str) -> tuple[int, str]:
        await self.writer.flush()  # records appended before are committed

        def run(conn: sqlite3.Connection) -> tuple[int, str]:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (access_log.head_key(tenant),)).fetchone()
            if row is None:
                return 0, ""
            count, last = orjson.loads(row[0])
            return int(count), str(last)

        return await self.engine.read(run)
