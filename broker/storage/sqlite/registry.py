"""Registrations of context providers (broker.registrations.codec documents)."""

from __future__ import annotations

from typing import Any

import orjson

from broker.ngsi.selection import Page
from broker.storage.sqlite.engine import SqliteEngine, document, documents


class SqliteRegistrations:
    """The port's `RegistrationStore`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def save_registration(self, tenant: str, doc: dict[str, Any]) -> None:
        text = orjson.dumps(doc).decode()
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO registrations(tenant, id, doc) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET doc = excluded.doc",
                (tenant, doc["id"], text),
            )
        )

    async def get_registration(self, tenant: str, reg_id: str) -> dict[str, Any] | None:
        return await self.engine.read(lambda conn: document(conn, "registrations", tenant, reg_id))

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        clause, params = "tenant = ?", [tenant]
        if service_path is not None:
            clause, params = clause + " AND json_extract(doc, '$.service_path') = ?", params + [service_path]
        return await self.engine.read(lambda conn: documents(conn, "registrations", clause, params, "pk", page))

    async def delete_registration(self, tenant: str, reg_id: str) -> bool:
        return await self.engine.write(
            lambda conn: (
                conn.execute("DELETE FROM registrations WHERE tenant = ? AND id = ?", (tenant, reg_id)).rowcount > 0
            )
        )
