"""Personal types and consents of each tenant, and the version a consent cache checks."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from broker.ngsi.consent import Consent
from broker.ngsi.selection import Page
from broker.storage.consent_codec import from_doc, to_doc
from broker.storage.sqlite import subjects
from broker.storage.sqlite.engine import SqliteEngine, bump_version, document, documents

MAX_CACHED_TENANTS = 4096


class SqlitePersonal:
    """The port's `PersonalTypeStore` and `ConsentStore`."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine
        # tenant -> (shared generation when read, (personal types, version))
        self._states: dict[str, tuple[int, tuple[dict[str, str], int]]] = {}

    async def personal_types(self, tenant: str) -> dict[str, str]:
        def run(conn: sqlite3.Connection) -> dict[str, str]:
            rows = conn.execute(
                "SELECT type, subject_attr FROM personal_types WHERE tenant = ? ORDER BY type", (tenant,)
            ).fetchall()
            return dict(rows)

        return await self.engine.read(run)

    async def personal_state(self, tenant: str) -> tuple[dict[str, str], int]:
        """Read by every request: answered from memory while the shared generation stays where it
        was when the rows were read (one memory read instead of two primary-key reads)."""
        generation = self.engine.generation
        seen = generation.read() if generation is not None else 1
        if seen % 2 == 0:
            cached = self._states.get(tenant)
            if cached is not None and cached[0] == seen:
                return cached[1]

        def run(conn: sqlite3.Connection) -> tuple[dict[str, str], int]:
            rows = conn.execute(
                "SELECT type, subject_attr FROM personal_types WHERE tenant = ? ORDER BY type", (tenant,)
            ).fetchall()
            version = conn.execute("SELECT value FROM meta WHERE key = ?", (f"personal_version:{tenant}",)).fetchone()
            return dict(rows), int(version[0]) if version else 0

        state = await self.engine.lookup(run)
        if seen % 2 == 0 and generation is not None and generation.read() == seen:  # nothing changed meanwhile
            if len(self._states) >= MAX_CACHED_TENANTS:
                self._states.clear()
            self._states[tenant] = (seen, state)
        return state

    def _changing(self) -> None:
        """In a job that changes personal types or consents (see SharedGeneration)."""
        assert self.engine.generation is not None, "storage not started"
        self.engine.generation.begin_change()

    async def put_personal_type(self, tenant: str, type_name: str, subject_attr: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO personal_types(tenant, type, subject_attr) VALUES(?, ?, ?)"
                " ON CONFLICT(tenant, type) DO UPDATE SET subject_attr = excluded.subject_attr",
                (tenant, type_name, subject_attr),
            )
            subjects.declare(conn, tenant, type_name, subject_attr)
            self._changing()
            bump_version(conn, f"personal_version:{tenant}")

        await self.engine.write(run)

    async def delete_personal_type(self, tenant: str, type_name: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM personal_types WHERE tenant = ? AND type = ?", (tenant, type_name))
            subjects.undeclare(conn, tenant, type_name)
            self._changing()
            bump_version(conn, f"personal_version:{tenant}")
            return cur.rowcount > 0

        return await self.engine.write(run)

    async def save_consent(self, tenant: str, consent: Consent) -> None:
        c, text = consent, orjson.dumps(to_doc(consent)).decode()

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO consents(tenant, id, subject, recipient, expires, withdrawn, doc) VALUES(?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(tenant, id) DO UPDATE SET expires = excluded.expires, withdrawn = excluded.withdrawn,"
                " doc = excluded.doc",
                (tenant, c.id, c.subject, c.recipient, c.expires, c.withdrawn_at, text),
            )
            self._changing()
            bump_version(conn, f"personal_version:{tenant}")

        await self.engine.write(run)

    async def get_consent(self, tenant: str, consent_id: str) -> Consent | None:
        doc = await self.engine.read(lambda conn: document(conn, "consents", tenant, consent_id))
        return None if doc is None else from_doc(doc)

    async def find_consents(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        active_at: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[Consent], int]:
        where = ["tenant = ?"]
        params: list[Any] = [tenant]
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if recipient is not None:
            where.append("recipient = ?")
            params.append(recipient)
        if active_at is not None:
            where.append("withdrawn IS NULL AND (expires IS NULL OR expires > ?)")
            params.append(active_at)
        clause = " AND ".join(where)

        docs, total = await self.engine.read(lambda conn: documents(conn, "consents", clause, params, "pk", page))
        return [from_doc(d) for d in docs], total
