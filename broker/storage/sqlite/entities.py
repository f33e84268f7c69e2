"""Entities and their types on SQLite: a row per entity (its attributes as JSON) and the rows
that index it for filters, types and geo-queries (`attributes`, `geometries`, `locations`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from broker.ngsi import geo
from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import EXPIRY_ATTR, Entity
from broker.ngsi.selection import EntityFilter, OrderKey, Page, TypeSummary, Visibility
from broker.storage.codec import attrs_from_doc, attrs_to_doc
from broker.storage.port import OutboxRecord, Write
from broker.storage.sqlite import subjects
from broker.storage.sqlite import visibility as visible
from broker.storage.sqlite.engine import SqliteEngine
from broker.storage.sqlite.filters import filter_sql, order_sql, scopes_sql

_ENTITY_COLUMNS = "e.pk, e.id, e.type, e.service_path, e.cre_date, e.mod_date, e.version, e.attrs"


def _row_to_entity(row: tuple[Any, ...]) -> Entity:
    _pk, id_, type_, sp, cre, mod, version, attrs = row
    return Entity(
        id=id_,
        type=type_,
        service_path=sp,
        attrs=attrs_from_doc(orjson.loads(attrs)),
        cre_date=cre,
        mod_date=mod,
        version=version,
    )


def _value_columns(value: Any) -> tuple[str, float | None, str | None, int | None]:
    """(kind, num, str, bool) of an attribute value, for the indexed q filters."""
    if isinstance(value, bool):
        return "b", None, None, int(value)
    if isinstance(value, (int, float)):
        return "n", float(value), None, None
    if isinstance(value, str):
        return "s", None, value, None
    if value is None:
        return "z", None, None, None
    return ("a" if isinstance(value, list) else "o"), None, None, None


_ATTRIBUTE_COLUMNS = ("type", "kind", "num", "str", "bool")


def _clear_index_rows(conn: sqlite3.Connection, pk: int) -> None:
    conn.execute("DELETE FROM attributes WHERE entity_pk = ?", (pk,))
    conn.execute("DELETE FROM geometries WHERE entity_pk = ?", (pk,))
    conn.execute("DELETE FROM locations WHERE id = ?", (pk,))


def _write_index_rows(conn: sqlite3.Connection, pk: int, entity: Entity) -> None:
    """The rows that make filters, types and geo-queries indexable: attributes and location.

    Only what differs from the rows already there is written: an update of one attribute rewrites
    one `attributes` row, and the location's rows (two tables and the R*Tree) only if it moved.
    Rewriting every row, as before, was most of the SQL of an update and the pages it dirtied."""
    rows = {name: (attr.type,) + _value_columns(attr.value) for name, attr in entity.attrs.items()}
    held = {
        r[0]: tuple(r[1:])
        for r in conn.execute("SELECT name, type, kind, num, str, bool FROM attributes WHERE entity_pk = ?", (pk,))
    }
    gone = [(pk, name) for name in held if name not in rows]
    if gone:
        conn.executemany("DELETE FROM attributes WHERE entity_pk = ? AND name = ?", gone)
    added = [(pk, name) + row for name, row in rows.items() if name not in held]
    if added:
        conn.executemany(
            "INSERT INTO attributes(entity_pk, name, type, kind, num, str, bool) VALUES(?, ?, ?, ?, ?, ?, ?)", added
        )
    # only the columns that changed: SQLite rewrites the entries of every index that has a column
    # the UPDATE sets (INSERT OR REPLACE, a delete and an insert, rewrote them all), so a new number
    # leaves `attributes_by_kind` alone, one page fewer to write and fsync per update
    changed: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for name, row in rows.items():
        old = held.get(name)
        if old is None or old == row:
            continue
        columns = tuple(c for c, before, after in zip(_ATTRIBUTE_COLUMNS, old, row) if before != after)
        changed.setdefault(columns, []).append(
            tuple(v for c, v in zip(_ATTRIBUTE_COLUMNS, row) if c in columns) + (pk, name)
        )
    for columns, params in changed.items():
        sets = ", ".join(f"{c} = ?" for c in columns)
        conn.executemany(f"UPDATE attributes SET {sets} WHERE entity_pk = ? AND name = ?", params)
    location = None
    if entity.location is not None:
        location = (entity.location.attr, orjson.dumps(entity.location.geometry).decode())
    stored = conn.execute("SELECT attr, geojson FROM geometries WHERE entity_pk = ?", (pk,)).fetchone()
    if stored == location:
        return
    if stored is not None:
        conn.execute("DELETE FROM geometries WHERE entity_pk = ?", (pk,))
        conn.execute("DELETE FROM locations WHERE id = ?", (pk,))
    if entity.location is not None and location is not None:
        minx, miny, maxx, maxy = geo.bounds(entity.location.geometry)
        conn.execute("INSERT INTO geometries(entity_pk, attr, geojson) VALUES(?, ?, ?)", (pk,) + location)
        conn.execute(
            "INSERT INTO locations(id, minx, maxx, miny, maxy) VALUES(?, ?, ?, ?, ?)", (pk, minx, maxx, miny, maxy)
        )


def _insert(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    cur = conn.execute(
        "INSERT OR IGNORE INTO entities(tenant, id, type, service_path, cre_date, mod_date, version, attrs, subject)"
        " VALUES(?, ?, ?, ?, ?, ?, 1, ?, ?)",
        (
            tenant,
            entity.id,
            entity.type,
            entity.service_path,
            entity.cre_date,
            entity.mod_date,
            _attrs_json(entity),
            subjects.subject_of(conn, tenant, entity),
        ),
    )
    if cur.rowcount == 0:
        return False
    assert cur.lastrowid is not None
    _write_index_rows(conn, cur.lastrowid, entity)
    return True


def _replace(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    row = conn.execute(
        "UPDATE entities SET mod_date = ?, version = version + 1, attrs = ?, subject = ?"
        " WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
        " RETURNING pk",
        (
            entity.mod_date,
            _attrs_json(entity),
            subjects.subject_of(conn, tenant, entity),
            tenant,
            entity.id,
            entity.type,
            entity.service_path,
            entity.version,
        ),
    ).fetchone()
    if row is None:
        return False
    _write_index_rows(conn, row[0], entity)
    return True


def _delete(conn: sqlite3.Connection, tenant: str, entity: Entity) -> bool:
    row = conn.execute(
        "DELETE FROM entities WHERE tenant = ? AND id = ? AND type = ? AND service_path = ? AND version = ?"
        " RETURNING pk",
        (tenant, entity.id, entity.type, entity.service_path, entity.version),
    ).fetchone()
    if row is None:
        return False
    _clear_index_rows(conn, row[0])
    return True


_WRITES = {"insert": _insert, "replace": _replace, "delete": _delete}


def _enqueue(conn: sqlite3.Connection, outbox: Sequence[OutboxRecord]) -> None:
    texts: dict[int, str] = {}  # records of one change share their snapshot: serialise it once
    rows = []
    for r in outbox:
        text = texts.get(id(r.payload))
        if text is None:
            text = texts[id(r.payload)] = orjson.dumps(r.payload).decode()
        rows.append((r.tenant, r.subscription_id, text, r.created, r.due, r.cbnotif, r.subject))
    conn.executemany(
        "INSERT INTO outbox(tenant, subscription_id, payload, created, due, attempts, cbnotif, subject)"
        " VALUES(?, ?, ?, ?, ?, 0, ?, ?)",
        rows,
    )


def _with_outbox(
    write: Callable[[sqlite3.Connection], bool], outbox: Sequence[OutboxRecord]
) -> Callable[[sqlite3.Connection], bool]:
    def run(conn: sqlite3.Connection) -> bool:
        if not write(conn):
            return False
        if outbox:
            _enqueue(conn, outbox)
        return True

    return run


def _type_filter(
    tenant: str, type_name: str | None, scopes: tuple[ServicePathScope, ...], vis: Visibility | None
) -> tuple[str, list[Any], str, list[Any]]:
    """WHERE over entities for `/v2/types`, and the extra condition on their attribute rows `a`."""
    where = ["e.tenant = ?"]
    params: list[Any] = [tenant]
    if type_name is not None:
        where.append("e.type = ?")
        params.append(type_name)
    sp, sp_params = scopes_sql(scopes)
    if sp:
        where.append(sp)
        params += sp_params
    attr_where, attr_params = "", []
    if vis is not None:
        sql, p = visible.entity_visible(vis)
        where.append(sql)
        params += p
        sql, p = visible.column_visible(vis, "a.name")
        attr_where, attr_params = f" AND {sql}", p
    return " AND ".join(where), params, attr_where, attr_params


class _Refused(Exception):
    """A batch write was refused: roll the whole batch back."""


LOOKUP_MAX_IDS = 20


def is_lookup(flt: EntityFilter, order: tuple[OrderKey, ...], count: bool) -> bool:
    """The filter names its entities by id (a few, `GET /v2/entities/{id}` and every write's read of
    the entity) and adds only conditions checked on those rows: an index lookup whose cost does not
    grow with the store, fit to run on the event loop (`SqliteEngine.lookup`)."""
    return (
        0 < len(flt.ids) <= LOOKUP_MAX_IDS
        and flt.id_pattern is None
        and flt.type_pattern is None
        and not flt.selectors
        and flt.q is None
        and flt.mq is None
        and flt.geo is None
        and not flt.any_attrs
        and not order
        and not count
    )


def _attrs_json(entity: Entity) -> str:
    return orjson.dumps(attrs_to_doc(entity)).decode()


class SqliteEntities:
    """Entities and types (the port's `EntityStore`); each write stores the notifications it owes."""

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def query_entities(
        self,
        tenant: str,
        flt: EntityFilter,
        page: Page,
        *,
        order: tuple[OrderKey, ...] = (),
        count: bool = False,
    ) -> tuple[list[Entity], int | None]:
        where, params = filter_sql(tenant, flt)
        order_by, order_params = order_sql(order, flt)

        if order_params:
            # sort keys only (not whole rows) over the matches, then read the one page of rows
            sql = (
                f"SELECT {_ENTITY_COLUMNS} FROM entities e WHERE e.pk IN (SELECT e.pk FROM entities e"
                f" WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?) ORDER BY {order_by}"
            )
            args = params + order_params + [page.limit, page.offset] + order_params
        else:
            sql = f"SELECT {_ENTITY_COLUMNS} FROM entities e WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?"
            args = params + [page.limit, page.offset]

        def run(conn: sqlite3.Connection) -> tuple[list[Entity], int | None]:
            rows = conn.execute(sql, args).fetchall()
            total = None
            if count:
                total = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            return [_row_to_entity(r) for r in rows], total

        if is_lookup(flt, order, count):
            return await self.engine.lookup(run, flt.visibility)
        return await self.engine.attempt(run, flt.visibility, shape=sql)

    async def insert_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.engine.write(_with_outbox(lambda conn: _insert(conn, tenant, entity), outbox))

    async def replace_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.engine.write(_with_outbox(lambda conn: _replace(conn, tenant, entity), outbox))

    async def delete_entity(self, tenant: str, entity: Entity, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return await self.engine.write(_with_outbox(lambda conn: _delete(conn, tenant, entity), outbox))

    async def delete_expired(self, now: float) -> int:
        find = "SELECT entity_pk FROM attributes WHERE name = ? AND type = 'DateTime' AND num <= ?"
        # a read first: most rounds find nothing, and then write (and fsync) nothing
        if not await self.engine.read(lambda conn: conn.execute(find + " LIMIT 1", (EXPIRY_ATTR, now)).fetchall()):
            return 0

        def run(conn: sqlite3.Connection) -> int:
            pks = [r[0] for r in conn.execute(find, (EXPIRY_ATTR, now)).fetchall()]
            for pk in pks:
                conn.execute("DELETE FROM entities WHERE pk = ?", (pk,))
                _clear_index_rows(conn, pk)
            return len(pks)

        return await self.engine.write(run)

    async def write_batch(self, tenant: str, writes: list[Write], outbox: Sequence[OutboxRecord] = ()) -> bool:
        def run(conn: sqlite3.Connection) -> None:
            for w in writes:
                if not _WRITES[w.action](conn, tenant, w.entity):
                    raise _Refused()  # the writer rolls this job's savepoint back
            _enqueue(conn, outbox)

        try:
            await self.engine.write(run)
        except _Refused:
            return False
        return True

    async def list_types(
        self,
        tenant: str,
        scopes: tuple[ServicePathScope, ...],
        page: Page,
        *,
        details: bool = True,
        visibility: Visibility | None = None,
    ) -> tuple[list[TypeSummary], int]:
        where, params, attr_where, attr_params = _type_filter(tenant, None, scopes, visibility)

        def run(conn: sqlite3.Connection) -> tuple[list[TypeSummary], int]:
            total = conn.execute(f"SELECT count(DISTINCT e.type) FROM entities e WHERE {where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT e.type, count(*) FROM entities e WHERE {where} GROUP BY e.type ORDER BY e.type LIMIT ? OFFSET ?",
                params + [page.limit, page.offset],
            ).fetchall()
            summaries = [TypeSummary(type=t, count=c) for t, c in rows]
            if details and summaries:
                by_type = {s.type: s for s in summaries}
                marks = ",".join("?" * len(summaries))
                for t, name, atype in conn.execute(
                    f"SELECT DISTINCT e.type, a.name, a.type FROM entities e JOIN attributes a ON a.entity_pk = e.pk"
                    f" WHERE {where}{attr_where} AND e.type IN ({marks}) ORDER BY a.name, a.type",
                    params + attr_params + [s.type for s in summaries],
                ):
                    by_type[t].attrs.setdefault(name, set()).add(atype)
            return summaries, total

        return await self.engine.read(run, visibility)

    async def get_type(
        self,
        tenant: str,
        type_name: str,
        scopes: tuple[ServicePathScope, ...],
        *,
        visibility: Visibility | None = None,
    ) -> TypeSummary | None:
        where, params, attr_where, attr_params = _type_filter(tenant, type_name, scopes, visibility)

        def run(conn: sqlite3.Connection) -> TypeSummary | None:
            n = conn.execute(f"SELECT count(*) FROM entities e WHERE {where}", params).fetchone()[0]
            if n == 0:
                return None
            summary = TypeSummary(type=type_name, count=n)
            for name, atype in conn.execute(
                f"SELECT DISTINCT a.name, a.type FROM entities e JOIN attributes a ON a.entity_pk = e.pk"
                f" WHERE {where}{attr_where} ORDER BY a.name, a.type",
                params + attr_params,
            ):
                summary.attrs.setdefault(name, set()).add(atype)
            return summary

        return await self.engine.read(run, visibility)
