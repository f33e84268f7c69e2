"""Registrations of context providers (stored as broker.storage.registration_codec documents)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from broker.ngsi.registration import CHANGEABLE, Owner, Registration
from broker.ngsi.selection import Page
from broker.storage.registration_codec import from_doc, to_doc
from broker.storage.sqlite.engine import SqliteEngine, document, documents


class SqliteRegistrations:
    """The port's `RegistrationStore`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def save_registration(self, reg: Registration) -> None:
        tenant, reg_id, text = reg.tenant, reg.id, orjson.dumps(to_doc(reg)).decode()
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO registrations(tenant, id, doc) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET doc = excluded.doc",
                (tenant, reg_id, text),
            )
        )

    async def get_registration(self, tenant: str, reg_id: str) -> Registration | None:
        doc = await self.engine.read(lambda conn: document(conn, "registrations", tenant, reg_id))
        return None if doc is None else from_doc(doc)

    async def find_registrations(
        self, tenant: str, page: Page, *, service_path: str | None = None, owned_by: Owner | None = None
    ) -> tuple[list[Registration], int]:
        clause, params = "tenant = ?", [tenant]
        if service_path is not None:
            clause, params = clause + " AND json_extract(doc, '$.service_path') = ?", params + [service_path]
        if owned_by is not None:  # IS: NULL (no owner, or a document from before owners) matches None
            clause, params = clause + " AND json_extract(doc, '$.owner') IS ?", params + [owned_by.principal]
        docs, total = await self.engine.read(lambda conn: documents(conn, "registrations", clause, params, "pk", page))
        return [from_doc(d) for d in docs], total

    async def delete_registration(self, tenant: str, reg_id: str) -> bool:
        return await self.engine.write(
            lambda conn: (
                conn.execute("DELETE FROM registrations WHERE tenant = ? AND id = ?", (tenant, reg_id)).rowcount > 0
            )
        )

    async def change_registration(self, tenant: str, reg_id: str, changes: Mapping[str, Any]) -> bool:
        """One UPDATE setting only the changed keys of the document (json_set): counters bumped
        meanwhile by `record_forwarding` stay."""
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable: {sorted(unknown)}")
        if not changes:
            return await self.get_registration(tenant, reg_id) is not None
        paths = ", ".join(f"'$.{name}', json(?)" for name in changes)
        values = [orjson.dumps(value).decode() for value in changes.values()]
        return await self.engine.write(
            lambda conn: (
                conn.execute(
                    f"UPDATE registrations SET doc = json_set(doc, {paths}) WHERE tenant = ? AND id = ?",
                    (*values, tenant, reg_id),
                ).rowcount
                > 0
            )
        )

    async def record_forwarding(self, tenant: str, reg_id: str, *, ok: bool, at: float) -> None:
        """One UPDATE of the counters inside the document: atomic, the other fields untouched."""
        outcome = "$.last_success" if ok else "$.last_failure"
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE registrations SET doc = json_set(doc,"
                " '$.times_sent', coalesce(json_extract(doc, '$.times_sent'), 0) + 1,"
                f" '$.last_forwarding', ?, '{outcome}', ?) WHERE tenant = ? AND id = ?",
                (at, at, tenant, reg_id),
            )
        )
