"""Compile the personal-data `Visibility` constraint to MongoDB filters and expressions, no I/O.

The same rules as `broker.storage.sqlite.visibility`: entities of hidden types exist only where a
grant names their type and subject; an attribute a grant does not show is absent for filters and
orderings (`attr_visible` wraps each statement; `shown_value` nulls a sort key).
"""

from __future__ import annotations

from typing import Any

from broker.ngsi.selection import Grant, Visibility
from broker.storage.mongo.keys import FALSE, Filter, encode_key


def _grant(g: Grant) -> Filter:
    return {"_id.type": g.type, f"attrs.{encode_key(g.subject_attr)}.value": {"$in": list(g.subjects)}}


def _any(parts: list[Filter]) -> Filter:
    parts = [p for p in parts if p != FALSE]
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _open(vis: Visibility) -> Filter:
    return {"_id.type": {"$nin": list(vis.hidden_types)}} if vis.hidden_types else {}


def entity_visible(vis: Visibility) -> Filter:
    if not vis.hidden_types:
        return {}
    return _any([_open(vis)] + [_grant(g) for g in vis.grants if g.subjects])


def attr_visible(vis: Visibility, name: str) -> Filter:
    return _any([_open(vis)] + [_grant(g) for g in vis.grants if g.subjects and g.shows(name)])


def location_visible(vis: Visibility) -> Filter:
    """The entity's location attribute (`location.attrName`) is one the caller may see."""
    parts: list[Filter] = [_open(vis)]
    for g in vis.grants:
        if not g.subjects:
            continue
        if g.attrs is None:
            parts.append(_grant(g))
        elif g.attrs:
            parts.append({**_grant(g), "location.attrName": {"$in": sorted(g.attrs)}})
    return _any(parts)


def wrap(statement_filter: Filter, vis: Visibility, name: str, true_when_absent: bool) -> Filter:
    """A statement on `name`: as compiled where the attribute is visible, as if absent elsewhere."""
    shown = attr_visible(vis, name)
    if true_when_absent:
        return {"$or": [statement_filter, {"$nor": [shown]}]}
    return {"$and": [shown, statement_filter]}


def _grant_expr(g: Grant) -> dict[str, Any]:
    subject = f"$attrs.{encode_key(g.subject_attr)}.value"
    return {"$and": [{"$eq": ["$_id.type", g.type]}, {"$in": [{"$ifNull": [subject, None]}, list(g.subjects)]}]}


def shown_value(vis: Visibility, name: str, path: str) -> dict[str, Any]:
    """An aggregation expression: the value at `path` where `name` is visible, else null."""
    parts: list[Any] = [{"$not": [{"$in": ["$_id.type", list(vis.hidden_types)]}]}]
    parts += [_grant_expr(g) for g in vis.grants if g.subjects and g.shows(name)]
    return {"$cond": [{"$or": parts}, {"$ifNull": [f"${path}", None]}, None]}
