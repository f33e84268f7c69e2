"""Compile the personal-data `Visibility` constraint to SQL over `entities e`.

An entity of a hidden (personal) type is visible when a grant names its type and its subject; an
attribute of a visible entity is visible when that grant shows it. Filters and orderings wrap
their conditions in `attr_visible` so that a hidden attribute behaves as if it were absent.
Granted subjects are read from per-connection temporary tables (`SubjectSet`): every read whose
SQL was compiled from a `Visibility` calls `materialise` on its connection first.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from broker.ngsi.selection import Grant, Visibility

Sql = tuple[str, list[Any]]
TRUE: Sql = ("1", [])


def _marks(values: tuple[str, ...] | list[str] | frozenset[str]) -> str:
    return ",".join("?" * len(values))


def _open_types(vis: Visibility) -> Sql:
    if not vis.hidden_types:
        return TRUE
    return f"e.type NOT IN ({_marks(vis.hidden_types)})", list(vis.hidden_types)


MAX_SETS_PER_CONNECTION = 64
_SUBJECT_SETS_KEPT = 1024


@dataclass(frozen=True)
class SubjectSet:
    """Granted subjects kept in a temporary table of each reader connection, named by content.

    Written into the SQL as `IN (SELECT s FROM temp.<table>)`, which SQLite answers from the
    table's own index. Bound as a list instead, the subjects would be copied into a fresh lookup
    table on every execution (some 200 us for 500 subjects, more than the scan of a page itself);
    the set of a cached view is built once per connection instead. The name is a hash of the
    content, so a name always means the same subjects.
    """

    table: str
    json: str


_subject_sets: dict[int, tuple[tuple[str, ...], SubjectSet]] = {}


def subject_set(subjects: tuple[str, ...]) -> SubjectSet:
    """The set of these subjects (views are cached, so the same tuple comes back: kept by identity)."""
    held = _subject_sets.get(id(subjects))
    if held is not None and held[0] is subjects:
        return held[1]
    text = orjson.dumps(sorted(set(subjects))).decode()
    found = SubjectSet("grant_" + hashlib.sha256(text.encode()).hexdigest()[:32], text)
    if len(_subject_sets) >= _SUBJECT_SETS_KEPT:
        _subject_sets.clear()
    _subject_sets[id(subjects)] = (subjects, found)
    return found


def missing_subjects(vis: Visibility, made: OrderedDict[str, None]) -> int:
    """How many granted subjects `materialise` would copy into a connection that has `made`."""
    return sum(len(g.subjects) for g in vis.grants if g.subjects and subject_set(g.subjects).table not in made)


def materialise(conn: sqlite3.Connection, vis: Visibility | None, made: OrderedDict[str, None]) -> None:
    """Create on this reader connection the subject tables that SQL compiled for `vis` reads.

    `made` is the connection's own record of its tables, least recently used first; beyond
    `MAX_SETS_PER_CONNECTION` the oldest ones not needed now are dropped. Only the connection's
    private temp schema is written: the store's file stays read-only to readers.
    """
    if vis is None:
        return
    needed = [subject_set(g.subjects) for g in vis.grants if g.subjects]
    missing = [s for s in needed if s.table not in made]
    for s in needed:
        if s.table in made:
            made.move_to_end(s.table)
    if not missing:
        return
    keep = {s.table for s in needed}
    conn.execute("PRAGMA query_only=OFF")
    try:
        for s in missing:
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {s.table}(s TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.execute(f"INSERT OR IGNORE INTO temp.{s.table}(s) SELECT value FROM json_each(?)", (s.json,))
            made[s.table] = None
        for table in [t for t in made if t not in keep][: max(0, len(made) - MAX_SETS_PER_CONNECTION)]:
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
            del made[table]
    finally:
        conn.execute("PRAGMA query_only=ON")


def _grant(g: Grant) -> Sql:
    """The entity is of the grant's type and its subject is one of the grant's subjects (the
    `subject` column holds the value of the type's subject attribute: `subjects.py`)."""
    return f"(e.type = ? AND e.subject IN (SELECT s FROM temp.{subject_set(g.subjects).table}))", [g.type]


def _any(parts: list[Sql]) -> Sql:
    parts = [p for p in parts if p[0] != "0"]
    if not parts:
        return "0", []
    if any(p[0] == "1" for p in parts):
        return TRUE
    params: list[Any] = []
    for _, p in parts:
        params += p
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", params


def entity_visible(vis: Visibility) -> Sql:
    return _any([_open_types(vis)] + [_grant(g) for g in vis.grants if g.subjects])


def attr_visible(vis: Visibility, name: str) -> Sql:
    """The named attribute is visible (on an entity that is visible)."""
    return _any([_open_types(vis)] + [_grant(g) for g in vis.grants if g.subjects and g.shows(name)])


def column_visible(vis: Visibility, column: str) -> Sql:
    """The attribute whose name is in `column` (e.g. `a.name`) is visible."""
    parts: list[Sql] = [_open_types(vis)]
    for g in vis.grants:
        if not g.subjects:
            continue
        sql, params = _grant(g)
        if g.attrs is not None:
            if not g.attrs:
                continue
            names = sorted(g.attrs)
            sql = f"({sql} AND {column} IN ({_marks(names)}))"
            params = params + names
        parts.append((sql, params))
    return _any(parts)


DRIVER_MAX_SUBJECTS = 64


def driver(vis: Visibility, types: tuple[str, ...]) -> Sql | None:
    """When the query asks only for hidden types and few subjects are granted: start from those
    subjects' entities. With many, walking the type index in creation order finds a page sooner."""
    if not types or not set(types) <= set(vis.hidden_types):
        return None
    if sum(len(g.subjects) for g in vis.grants if g.type in types) > DRIVER_MAX_SUBJECTS:
        return None
    selects: list[str] = []
    params: list[Any] = []
    for g in vis.grants:
        if g.type in types and g.subjects:
            selects.append(
                "SELECT a.entity_pk FROM attributes a WHERE a.name = ?"
                f" AND a.str IN (SELECT s FROM temp.{subject_set(g.subjects).table})"
            )
            params.append(g.subject_attr)
    if not selects:
        return "SELECT NULL WHERE 0", []
    return " UNION ".join(selects), params
