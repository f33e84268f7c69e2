"""Compile the personal-data `Visibility` constraint to SQL over `entities e`.

An entity of a hidden (personal) type is visible when a grant names its type and its subject; an
attribute of a visible entity is visible when that grant shows it. Filters and orderings wrap
their conditions in `attr_visible` so that a hidden attribute behaves as if it were absent.
"""

from __future__ import annotations

from typing import Any

import orjson

from broker.storage.port import Grant, Visibility

Sql = tuple[str, list[Any]]
TRUE: Sql = ("1", [])


def _marks(values: tuple[str, ...] | list[str] | frozenset[str]) -> str:
    return ",".join("?" * len(values))


def _open_types(vis: Visibility) -> Sql:
    if not vis.hidden_types:
        return TRUE
    return f"e.type NOT IN ({_marks(vis.hidden_types)})", list(vis.hidden_types)


_SUBJECTS_CACHE = 1024
_subjects_json: dict[int, tuple[tuple[str, ...], str]] = {}


def subjects_param(subjects: tuple[str, ...]) -> str:
    """The subjects as one JSON array parameter, read in SQL with `json_each`.

    One parameter instead of one per subject: the SQL text is the same whatever the number of
    subjects (one cached statement, not one per size), and binding hundreds of parameters, done
    while holding the GIL, becomes one. Views are cached, so the same tuple comes back: its text is
    kept, keyed by identity.
    """
    held = _subjects_json.get(id(subjects))
    if held is not None and held[0] is subjects:
        return held[1]
    text = orjson.dumps(subjects).decode()
    if len(_subjects_json) >= _SUBJECTS_CACHE:
        _subjects_json.clear()
    _subjects_json[id(subjects)] = (subjects, text)
    return text


def _grant(g: Grant) -> Sql:
    """The entity is of the grant's type and its subject attribute names one of its subjects."""
    subject = "(SELECT a.str FROM attributes a WHERE a.entity_pk = e.pk AND a.name = ? AND a.kind = 's')"
    return (
        f"(e.type = ? AND {subject} IN (SELECT value FROM json_each(?)))",
        [g.type, g.subject_attr, subjects_param(g.subjects)],
    )


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
                "SELECT a.entity_pk FROM attributes a WHERE a.name = ? AND a.str IN (SELECT value FROM json_each(?))"
            )
            params += [g.subject_attr, subjects_param(g.subjects)]
    if not selects:
        return "SELECT NULL WHERE 0", []
    return " UNION ".join(selects), params
