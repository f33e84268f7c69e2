"""Python functions the SQLite queries call on candidate rows: regular expressions, q statements that
SQL alone cannot decide exactly (paths into compound values, arrays, metadata), geo relations and
distances. The compiled SQL passes a token naming the statement or geo-query; the objects behind
the tokens live in a small registry, so the SQL text stays parameterised.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import orjson
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from broker.ngsi import geo
from broker.ngsi.model import Entity
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query import Query, matches
from broker.ngsi.query.ast import Statement
from broker.storage.codec import attrs_from_doc

_REGISTRY: OrderedDict[str, Any] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 4096


def register(obj: Any) -> str:
    """A token for `obj` (a q statement or a geo-query) that the SQL functions resolve."""
    token = repr(obj)
    with _LOCK:
        _REGISTRY[token] = obj
        _REGISTRY.move_to_end(token)
        while len(_REGISTRY) > _MAX:
            _REGISTRY.popitem(last=False)
    return token


def _lookup(token: str) -> Any:
    with _LOCK:
        return _REGISTRY.get(token)


def regexp(pattern: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    compiled = compile_pattern(pattern)
    return compiled is not None and compiled.search(value) is not None


def ngsi_match(token: str, attrs_json: str, cre_date: float, mod_date: float) -> bool:
    """Whether one q/mq statement holds for an entity row (Orion's in-memory semantics)."""
    statement: Statement | None = _lookup(token)
    if statement is None:
        return False
    entity = Entity(
        id="", type="", attrs=attrs_from_doc(orjson.loads(attrs_json)), cre_date=cre_date, mod_date=mod_date
    )
    return matches(Query((statement,)), entity)


@lru_cache(maxsize=4096)
def _shape(geojson: str) -> BaseGeometry:
    return shape(orjson.loads(geojson))


def geo_match(token: str, geojson: str | None) -> bool:
    query: geo.GeoQuery | None = _lookup(token)
    if query is None or geojson is None:
        return False
    return geo.matches(query, _shape(geojson), _query_shape(token))


@lru_cache(maxsize=256)
def _query_shape(token: str) -> BaseGeometry:
    query: geo.GeoQuery = _lookup(token)
    return query.shape


def geo_distance(token: str, geojson: str | None) -> float:
    query: geo.GeoQuery | None = _lookup(token)
    if query is None or geojson is None:
        return float("inf")
    lon, lat = query.geometry["coordinates"]
    return geo.distance_to(_shape(geojson), lon, lat)


def install(conn: sqlite3.Connection) -> None:
    conn.create_function("regexp", 2, regexp, deterministic=True)
    conn.create_function("ngsi_match", 4, ngsi_match, deterministic=True)
    conn.create_function("geo_match", 2, geo_match, deterministic=True)
    conn.create_function("geo_distance", 2, geo_distance, deterministic=True)
