"""The `entities.subject` column: the data subject of each entity of a personal type, kept by writes.

Consent filters test whether an entity's subject is among the granted ones. Read from the
`attributes` table, that is one index search per entity scanned (a page of 20 visible entities
scans about 400 when a service is granted one subject in 20), and it was most of what a page of a
personal type cost more than a page of an open one. The column is on the row the scan reads
anyway. It is written in the same transaction as the entity, from the declaration committed at
that moment, and rewritten for every entity of a type when the type is declared or undeclared,
so it always agrees with `personal_types`. Entities of open types hold NULL.
"""

from __future__ import annotations

import sqlite3

from broker.ngsi.model import Entity
from broker.ngsi.selection import subject_of as subject_in

_FROM_ATTRIBUTES = "(SELECT a.str FROM attributes a WHERE a.entity_pk = entities.pk AND a.name = ? AND a.kind = 's')"


def subject_of(conn: sqlite3.Connection, tenant: str, entity: Entity) -> str | None:
    """The entity's subject if its type is personal in the tenant and the subject attribute is text."""
    row = conn.execute(
        "SELECT subject_attr FROM personal_types WHERE tenant = ? AND type = ?", (tenant, entity.type)
    ).fetchone()
    return subject_in(entity, row[0]) if row is not None else None


def declare(conn: sqlite3.Connection, tenant: str, type_name: str, subject_attr: str) -> None:
    """A type declared personal (or with another subject attribute): its entities' subjects."""
    conn.execute(
        f"UPDATE entities SET subject = {_FROM_ATTRIBUTES} WHERE tenant = ? AND type = ?",
        (subject_attr, tenant, type_name),
    )


def undeclare(conn: sqlite3.Connection, tenant: str, type_name: str) -> None:
    conn.execute(
        "UPDATE entities SET subject = NULL WHERE tenant = ? AND type = ? AND subject IS NOT NULL", (tenant, type_name)
    )


def migrate(conn: sqlite3.Connection) -> None:
    """Stores made before the column: add it and fill it for the types declared so far."""
    if "subject" in {row[1] for row in conn.execute("PRAGMA table_info(entities)")}:
        return
    conn.execute("ALTER TABLE entities ADD COLUMN subject TEXT")
    for tenant, type_name, subject_attr in conn.execute(
        "SELECT tenant, type, subject_attr FROM personal_types"
    ).fetchall():
        declare(conn, tenant, type_name, subject_attr)
