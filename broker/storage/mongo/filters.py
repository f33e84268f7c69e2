"""Compile an `EntityFilter` and an order to MongoDB filter and sort documents, with no I/O.

The filters are the ones Orion builds over its `entities` layout (`_id.id`, `_id.type`,
`_id.servicePath`, `attrNames`, `attrs.<name>.value`, `location.coords`), so MongoDB's own
type bracketing and implicit array traversal give the semantics `broker.ngsi.query.evaluate`
reproduces in memory: comparisons only between values of the same kind, `!=` only on targets
that exist, arrays matching when any element does.
"""

from __future__ import annotations

from typing import Any

from broker.ngsi.context import ServicePathScope
from broker.ngsi.geo import GeoQuery
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query.ast import Compare, DateValue, Exists, Path, Query, Range, Statement, ValueList
from broker.ngsi.selection import EntityFilter, EntitySelector, OrderKey, Visibility
from broker.storage.mongo import visibility as visible
from broker.storage.mongo.keys import FALSE, Filter, encode_key

Sort = list[tuple[str, int]]
SEQ = "_ab_seq"  # our creation-order counter: the tie-break of every sort
DISTANCE = "_ab_distance"  # the field $geoNear writes the distance to
_ENTITY_DATES = {"dateCreated": "creDate", "dateModified": "modDate"}
_BUILTIN_ORDER = {"id": "_id.id", "type": "_id.type", "dateCreated": "creDate", "dateModified": "modDate"}


def _and(parts: list[Filter]) -> Filter:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    return {"$and": parts}


# -- entity keys and service paths -----------------------------------------------------------


def _pattern(field: str, pattern: str) -> Filter:
    """`idPattern`/`typePattern` as `$regex`; an invalid pattern matches nothing (as in memory)."""
    if compile_pattern(pattern) is None:
        return FALSE
    return {field: {"$regex": pattern}}


def selector_filter(sel: EntitySelector) -> Filter:
    parts: list[Filter] = []
    if sel.ids:
        parts.append({"_id.id": {"$in": list(sel.ids)}})
    if sel.id_pattern is not None:
        parts.append(_pattern("_id.id", sel.id_pattern))
    if sel.types:
        parts.append({"_id.type": {"$in": list(sel.types)}})
    if sel.type_pattern is not None:
        parts.append(_pattern("_id.type", sel.type_pattern))
    return _and(parts)


def scopes_filter(scopes: tuple[ServicePathScope, ...]) -> Filter:
    """Service-path scopes as an index-friendly condition; {} when they select everything."""
    if not scopes or any(s.recursive and s.path == "/" for s in scopes):
        return {}
    exact = [s.path for s in scopes if not s.recursive]
    alternatives: list[Filter] = []
    if exact:
        alternatives.append({"_id.servicePath": {"$in": exact}})
    for scope in scopes:
        if scope.recursive:
            # the subtree of /a is /a itself and every path in ['/a/', '/a0'): '0' follows '/'
            alternatives.append({"_id.servicePath": scope.path})
            alternatives.append({"_id.servicePath": {"$gte": scope.path + "/", "$lt": scope.path + "0"}})
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


# -- q and mq ----------------------------------------------------------------------------------


def _field(path: Path) -> str:
    """The document path a binary statement compares: a value, a metadata value or a date."""
    attr = encode_key(path.attr)
    if path.metadata is None:
        if not path.sub and path.attr in _ENTITY_DATES:
            return _ENTITY_DATES[path.attr]
        base = f"attrs.{attr}.value"
    else:
        if not path.sub and path.metadata in _ENTITY_DATES:
            return f"attrs.{attr}.{_ENTITY_DATES[path.metadata]}"
        base = f"attrs.{attr}.md.{encode_key(path.metadata)}.value"
    return ".".join((base,) + path.sub)


def _exists(statement: Exists) -> Filter:
    path = statement.path
    if path.metadata is None and not path.sub:
        # Orion tests attribute names for unary statements
        return {"attrNames": {"$ne": path.attr}} if statement.negated else {"attrNames": path.attr}
    attr = encode_key(path.attr)
    if path.metadata is None:
        field = ".".join((f"attrs.{attr}.value",) + path.sub)
    elif not path.sub and path.metadata in _ENTITY_DATES:
        field = f"attrs.{attr}"  # an attribute always has its dates
    else:
        field = ".".join(
            (f"attrs.{attr}.md.{encode_key(path.metadata)}",) + (("value",) + path.sub if path.sub else ())
        )
    return {field: {"$exists": not statement.negated}}


def _number(value: Any) -> float | None:
    if isinstance(value, DateValue):
        return value.epoch
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _orderable(value: Any) -> str | float | None:
    """A value `<`, `>`, ranges and lists can compare with: a string or a number (dates as epochs)."""
    if isinstance(value, str):
        return value
    return _number(value)


def _equals(field: str, value: Any) -> Filter:
    """`==` on one field: a value, any of a list, or within a range (bounds of the same kind)."""
    if isinstance(value, Range):
        low, high = _orderable(value.low), _orderable(value.high)
        if low is None or high is None or isinstance(low, str) != isinstance(high, str):
            return FALSE
        return {field: {"$gte": low, "$lte": high}}
    if isinstance(value, ValueList):
        values = [_orderable(v) for v in value.values]
        if not values or any(v is None for v in values):
            return FALSE
        return {field: {"$in": values}}
    if value is None:
        return {field: {"$type": "null"}}  # not `{field: null}`, which also matches a missing field
    if isinstance(value, (bool, str)):
        return {field: value}
    number = _number(value)
    return FALSE if number is None else {field: number}


_ORDER_OPS = {">": "$gt", "<": "$lt", ">=": "$gte", "<=": "$lte"}


def compare_filter(statement: Compare) -> Filter:
    field, op, value = _field(statement.path), statement.op, statement.value
    if op == "==":
        return _equals(field, value)
    if op == "!=":
        equal = _equals(field, value)
        exists: Filter = {field: {"$exists": True}}  # Orion: `!=` needs the target to exist
        return exists if equal == FALSE else {"$and": [exists, {"$nor": [equal]}]}
    if op == "~=":
        if not isinstance(value, str) or compile_pattern(value) is None:
            return FALSE
        return {field: {"$regex": value}}
    bound = _orderable(value)
    if bound is None or op not in _ORDER_OPS:
        return FALSE
    return {field: {_ORDER_OPS[op]: bound}}


def statement_filter(statement: Statement) -> Filter:
    if isinstance(statement, Exists):
        return _exists(statement)
    return compare_filter(statement)


def query_filter(query: Query, vis: Visibility | None = None) -> Filter:
    """Statements are ANDed; under a visibility constraint a hidden attribute is absent."""
    if vis is None:
        return _and([statement_filter(s) for s in query.statements])
    parts = []
    for s in query.statements:
        compiled = statement_filter(s)
        p = s.path
        entity_date = p.metadata is None and not p.sub and p.attr in _ENTITY_DATES
        if not entity_date and not vis.shows_everywhere(p.attr):
            compiled = visible.wrap(compiled, vis, p.attr, isinstance(s, Exists) and s.negated)
        parts.append(compiled)
    return _and(parts)


# -- geo ---------------------------------------------------------------------------------------

LOCATION = "location.coords"


def geo_filter(geo: GeoQuery) -> Filter:
    """Every relation but `near` (which needs the `$geoNear` stage, see `near_stage`)."""
    geometry = {"$geometry": geo.geometry}
    if geo.relation == "coveredBy":
        return {LOCATION: {"$geoWithin": geometry}}
    if geo.relation == "intersects":
        return {LOCATION: {"$geoIntersects": geometry}}
    if geo.relation == "disjoint":
        return {LOCATION: {"$exists": True, "$not": {"$geoIntersects": geometry}}}
    if geo.relation == "equals":
        return {LOCATION: geo.geometry}
    raise ValueError(f"no plain filter for georel {geo.relation}")


def near_stage(geo: GeoQuery, query: Filter) -> dict[str, Any]:
    """`$geoNear`: the matches of `query` within the distances, each with its distance in metres."""
    stage: dict[str, Any] = {
        "near": geo.geometry,
        "distanceField": DISTANCE,
        "key": LOCATION,
        "spherical": True,
        "query": query,
    }
    if geo.max_distance is not None:
        stage["maxDistance"] = geo.max_distance
    if geo.min_distance is not None:
        stage["minDistance"] = geo.min_distance
    return {"$geoNear": stage}


def is_near(flt: EntityFilter) -> bool:
    return flt.geo is not None and flt.geo.relation == "near"


# -- the whole filter and the order ------------------------------------------------------------


def entity_filter(flt: EntityFilter) -> Filter:
    """Everything the filter asks but a `near` relation, as one MongoDB filter document."""
    parts = [selector_filter(EntitySelector(flt.ids, flt.id_pattern, flt.types, flt.type_pattern))]
    if flt.selectors:
        parts.append({"$or": [selector_filter(s) for s in flt.selectors]})
    parts.append(scopes_filter(flt.scopes))
    for query in (flt.q, flt.mq):
        if query is not None:
            parts.append(query_filter(query, flt.visibility))
    if flt.any_attrs:
        parts.append({"$or": [query_filter(Query((Exists(Path(n)),)), flt.visibility) for n in flt.any_attrs]})
    if flt.geo is not None and flt.geo.relation != "near":
        parts.append(geo_filter(flt.geo))
    if flt.visibility is not None:
        parts.append(visible.entity_visible(flt.visibility))
        if flt.geo is not None:
            parts.append(visible.location_visible(flt.visibility))
    if any(p == FALSE for p in parts):
        return FALSE
    return _and(parts)


def sort_spec(order: tuple[OrderKey, ...], flt: EntityFilter) -> Sort:
    """Sort keys in MongoDB's (so Orion's) mixed-type order; ties end on creation order."""
    near = is_near(flt)
    spec: Sort = []
    for key in order:
        direction = -1 if key.descending else 1
        if key.name == "geo:distance" and not key.sub:
            if near:
                spec.append((DISTANCE, direction))
            continue
        if key.name in _BUILTIN_ORDER and not key.sub:
            spec.append((_BUILTIN_ORDER[key.name], direction))
            continue
        spec.append((".".join((f"attrs.{encode_key(key.name)}.value",) + key.sub), direction))
    spec.append((SEQ, 1))
    seen: set[str] = set()
    unique: Sort = []
    for field, direction in spec:  # MongoDB refuses a key twice; the first one decides anyway
        if field not in seen:
            seen.add(field)
            unique.append((field, direction))
    return unique


def hidden_sort_keys(order: tuple[OrderKey, ...], flt: EntityFilter) -> list[tuple[str, str]]:
    """(attribute, document path) of sort keys on attributes some visible entity has hidden:
    those sort through an aggregation that nulls the hidden values (`visibility.shown_value`)."""
    vis = flt.visibility
    if vis is None:
        return []
    out = []
    for key in order:
        if key.name in _BUILTIN_ORDER or key.name == "geo:distance" or vis.shows_everywhere(key.name):
            continue
        out.append((key.name, ".".join((f"attrs.{encode_key(key.name)}.value",) + key.sub)))
    return out
