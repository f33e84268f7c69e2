"""Locations and geo-queries: Orion's location attribute types and `georel/geometry/coords`.

Everything is GeoJSON (longitude first) once parsed; NGSI's simple formats put latitude first.
Relations use shapely; distances are on the sphere (metres, MongoDB's 2dsphere earth radius).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.ops
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.model import Attribute

EARTH_RADIUS_M = 6378100.0  # the radius MongoDB uses for 2dsphere distances
SIMPLE_TYPES = ("geo:point", "geo:line", "geo:box", "geo:polygon")
LOCATION_TYPES = SIMPLE_TYPES + ("geo:json",)
GEOJSON_GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
RELATIONS = ("near", "coveredBy", "intersects", "equals", "disjoint")
GEOMETRIES = ("point", "line", "polygon", "box")


class LocationError(ValueError):
    """A malformed location value; the message is Orion's detail text."""


def _lat_lon(text: Any) -> tuple[float, float]:
    """`"lat, lon"` -> (lon, lat), refusing what is not a coordinate pair on the earth."""
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except (ValueError, AttributeError):
        raise LocationError(f"geo coordinates format error [see Orion user manual]: {text}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise LocationError(f"geo coordinates format error [see Orion user manual]: {text}")
    return lon, lat


def _box(points: list[tuple[float, float]]) -> dict[str, Any]:
    (x1, y1), (x2, y2) = points
    if x1 == x2 or y1 == y2:
        raise LocationError("geo:box coordinates are not defining an actual box")
    minx, maxx, miny, maxy = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
    return {"type": "Polygon", "coordinates": [ring]}


def simple_to_geojson(kind: str, value: Any) -> dict[str, Any]:
    """A `geo:point|line|box|polygon` value as a GeoJSON geometry (LocationError when malformed)."""
    if kind == "geo:point":
        lon, lat = _lat_lon(value)
        return {"type": "Point", "coordinates": [lon, lat]}
    if not isinstance(value, list):
        raise LocationError("geo:line, geo:box and geo:polygon needs array of strings as value")
    if not all(isinstance(v, str) for v in value):
        raise LocationError("geo:line, geo:box and geo:polygon needs array of strings but some element is not a string")
    points = [_lat_lon(v) for v in value]
    if kind == "geo:line":
        if len(points) < 2:
            raise LocationError("geo:line uses at least 2 coordinates")
        return {"type": "LineString", "coordinates": [list(p) for p in points]}
    if kind == "geo:box":
        if len(points) != 2:
            raise LocationError("geo:box uses exactly 2 coordinates")
        return _box(points)
    if len(points) < 4:
        raise LocationError("geo:polygon uses at least 4 coordinates")
    if points[0] != points[-1]:
        raise LocationError("geo:polygon first and last coordinates must match")
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def _point(geometry: dict[str, Any]) -> tuple[float, float] | None:
    """(x, y) of a GeoJSON Point with 2 or 3 plain numbers, else None (anything else goes to shapely).

    Building a shapely geometry costs some 50 us: once to validate every written location, once
    for its bounding box in the store, for each create and each update of a located entity."""
    if geometry.get("type") != "Point":
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        return None
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in coords):
        return None
    return float(coords[0]), float(coords[1])


def bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a valid GeoJSON geometry."""
    point = _point(geometry)
    if point is not None:
        return point[0], point[1], point[0], point[1]
    minx, miny, maxx, maxy = shape(geometry).bounds
    return minx, miny, maxx, maxy


def geojson_geometry(value: Any) -> dict[str, Any]:
    """The geometry of a `geo:json` value; a Feature gives its geometry, a FeatureCollection the union."""
    if not isinstance(value, dict):
        raise LocationError("geo:json needs an object as value")
    kind = value.get("type")
    if kind == "Feature":
        if "geometry" not in value:
            raise LocationError("geometry in Feature not found")
        if not isinstance(value["geometry"], dict):
            raise LocationError("geometry in Feature is not an object")
        return geojson_geometry(value["geometry"])
    if kind == "FeatureCollection":
        if "features" not in value:
            raise LocationError("features field not found in FeatureCollection")
        features = value["features"]
        if not isinstance(features, list):
            raise LocationError("features in FeatureCollection is not an array")
        if not features:
            raise LocationError("features in FeatureCollection has 0 items")
        if len(features) > 1:
            raise LocationError("features in FeatureCollection has more than 1 item")
        return geojson_geometry(features[0])
    if kind not in GEOJSON_GEOMETRIES:
        raise LocationError("Wrong GeoJson")
    point = _point(value)
    if point is not None:  # most locations: checked as shapely would, without building a geometry
        x, y = point
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise LocationError("Wrong GeoJson")
        return {"type": kind, "coordinates": value["coordinates"]}
    try:
        geom = shape(value)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError):
        raise LocationError("Wrong GeoJson") from None
    if geom.is_empty:
        raise LocationError("Wrong GeoJson")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise LocationError("Wrong GeoJson")
    return {"type": kind, "coordinates": value["coordinates"]}


TOO_MANY_LOCATIONS = (
    "You cannot use more than one geo location attribute when creating an entity. "
    "Use ignoreType metadata if you want to add additional informative locations."
)


def is_location(attr: Attribute) -> bool:
    """Orion: a location type, a non-null value and no `ignoreType: true` metadata."""
    if attr.type not in LOCATION_TYPES or attr.value is None:
        return False
    ignore = attr.metadata.get("ignoreType")
    return not (ignore is not None and ignore.value is True)


def location_of(attrs: dict[str, Attribute]) -> tuple[str, dict[str, Any]] | None:
    """The entity's one location attribute and its GeoJSON geometry, validating Orion's rules."""
    found: tuple[str, dict[str, Any]] | None = None
    for name, attr in attrs.items():
        if not is_location(attr):
            continue
        if found is not None:
            raise NgsiError(413, "NoResourcesAvailable", TOO_MANY_LOCATIONS)
        try:
            if attr.type == "geo:json":
                geometry = geojson_geometry(attr.value)
            else:
                geometry = simple_to_geojson(attr.type, attr.value)
        except LocationError as exc:
            raise bad_request(f"error parsing location attribute: {exc}") from None
        found = (name, geometry)
    return found


# -- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoQuery:
    relation: str  # near, coveredBy, intersects, equals, disjoint
    geometry: dict[str, Any]  # GeoJSON, longitude first
    max_distance: float | None = None
    min_distance: float | None = None

    @property
    def shape(self) -> BaseGeometry:
        return shape(self.geometry)


class _GeoSyntax(Exception):
    """A malformed geo-query; the message is Orion's detail text."""


def _invalid(detail: str) -> _GeoSyntax:
    return _GeoSyntax(detail)


def _parse_georel(georel: str) -> tuple[str, float | None, float | None]:
    relation: str | None = None
    max_d = min_d = None
    for token in georel.split(";"):
        if token == "":
            raise _invalid("empty georel")
        key, sep, raw = token.partition(":")
        if not sep:
            if token not in RELATIONS:
                raise _invalid("Invalid modifier in georel parameter")
            if relation is not None:
                raise _invalid("georel type present more than once")
            relation = token
            continue
        if key not in ("maxDistance", "minDistance"):
            raise _invalid("Invalid modifier in georel parameter")
        if (max_d if key == "maxDistance" else min_d) is not None:
            raise _invalid(f"{key} present more than once")
        try:
            distance = float(raw)
        except ValueError:
            raise _invalid(f"invalid number for {key}") from None
        if math.isnan(distance) or math.isinf(distance):
            raise _invalid(f"invalid number for {key}")
        if key == "maxDistance":
            max_d = distance
        else:
            min_d = distance
    if relation is None:
        raise _invalid("empty georel")
    for key, val in (("maxDistance", max_d), ("minDistance", min_d)):
        if val is not None and relation != "near":
            raise _invalid(f"{key} erroneously used with georel /{relation}/")
    if relation == "near" and max_d is None and min_d is None:
        raise _invalid("georel /near/ without either minDistance nor maxDistance")
    return relation, max_d, min_d


def _parse_geometry(geometry: str) -> str:
    found: str | None = None
    for token in geometry.split(";"):
        if token == "":
            raise _invalid("error parsing geometry: empty geometry")
        if token not in GEOMETRIES:
            raise _invalid("error parsing geometry: Invalid selector in geometry specification")
        if found is not None:
            raise _invalid("error parsing geometry: geometry-type present more than once")
        found = token
    if found is None:
        raise _invalid("error parsing geometry: empty geometry")
    return found


def _parse_coords(coords: str) -> list[tuple[float, float]]:
    if coords == "":
        raise _invalid("no coordinates for geometry")
    points: list[tuple[float, float]] = []
    for item in coords.split(";"):
        parts = item.split(",")
        if len(parts) != 2:  # Orion (Scope::fill): the same text whatever the geometry
            raise _invalid("invalid point in URI param /coords/")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except ValueError:
            raise _invalid("invalid coordinates") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _invalid("invalid coordinates")
        points.append((lon, lat))
    return points


def parse_geo_query(
    georel: str | None,
    geometry: str | None,
    coords: str | None,
    *,
    require_georel: bool = False,
    error_prefix: str = "Invalid query: ",
) -> GeoQuery | None:
    try:
        return _parse_geo_query(georel, geometry, coords, require_georel)
    except _GeoSyntax as exc:
        raise bad_request(f"{error_prefix}{exc}") from None


def _parse_geo_query(
    georel: str | None, geometry: str | None, coords: str | None, require_georel: bool
) -> GeoQuery | None:
    """`georel`, `geometry` and `coords` together, with Orion's errors; None when none is given.

    GET accepts geometry and coords without georel (Orion then filters with `intersects`);
    `op/query` and subscriptions need all three (`require_georel`).
    """
    if georel is None and geometry is None and coords is None:
        return None
    if require_georel and (georel is None or geometry is None or coords is None):
        raise bad_request("partial geo expression: geometry, georel and coords have to be provided together")
    if geometry is not None and coords is None:
        raise _invalid("URI param /geometry/ used without /coords/")
    if coords is not None and geometry is None:
        raise _invalid("URI param /coords/ used without /geometry/")
    if georel is not None and geometry is None:
        raise _invalid("URI param /georel/ used without /geometry/")
    assert geometry is not None and coords is not None
    kind = _parse_geometry(geometry)
    relation, max_d, min_d = _parse_georel(georel) if georel is not None else ("intersects", None, None)
    if relation == "coveredBy" and kind in ("line", "point"):
        raise _invalid(f"{kind} geometry cannot be used with coveredBy georel")
    if relation == "near" and kind != "point":
        raise _invalid("georel /near/ used with geometry different than point")
    points = _parse_coords(coords)
    if kind == "point":
        if len(points) != 1:
            raise _invalid("invalid number of coordinates for /point/")
        geo: dict[str, Any] = {"type": "Point", "coordinates": list(points[0])}
    elif kind == "line":
        if len(points) < 2:
            raise _invalid("invalid number of coordinates for /line/")
        geo = {"type": "LineString", "coordinates": [list(p) for p in points]}
    elif kind == "box":
        if len(points) != 2:
            raise _invalid("invalid number of coordinates for /box/")
        if points[0][0] == points[1][0] or points[0][1] == points[1][1]:
            raise _invalid("box coordinates are not defining an actual box")
        geo = _box(points)
    else:
        if len(points) < 4:
            raise _invalid("Too few coordinates for polygon")
        if points[0] != points[-1]:
            raise _invalid("First and last point in polygon not the same")
        geo = {"type": "Polygon", "coordinates": [[list(p) for p in points]]}
    return GeoQuery(relation, geo, max_d, min_d)


# -- evaluation (used by the SQLite functions and by the in-memory matcher) ----------------------


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_to(geom: BaseGeometry, lon: float, lat: float) -> float:
    """Metres from a point to the nearest point of `geom` (0 inside a polygon)."""
    if geom.geom_type == "Point":  # the common case, and 20x cheaper than the general one
        return haversine(geom.x, geom.y, lon, lat)
    point = Point(lon, lat)
    if geom.covers(point):
        return 0.0
    nearest = shapely.ops.nearest_points(geom, point)[0]
    return haversine(nearest.x, nearest.y, lon, lat)


def matches(query: GeoQuery, geom: BaseGeometry, query_shape: BaseGeometry | None = None) -> bool:
    q = query_shape if query_shape is not None else query.shape
    if query.relation == "near":
        d = distance_to(geom, q.x, q.y)
        if query.max_distance is not None and d > query.max_distance:
            return False
        if query.min_distance is not None and d < query.min_distance:
            return False
        return True
    if query.relation == "coveredBy":
        return bool(q.covers(geom))
    if query.relation == "intersects":
        return bool(q.intersects(geom))
    if query.relation == "equals":
        return bool(q.equals(geom))
    return bool(q.disjoint(geom))  # disjoint


def search_box(query: GeoQuery) -> tuple[float, float, float, float] | None:
    """A bounding box (minx, maxx, miny, maxy) every match lies in, for an R*Tree; None: no bound."""
    if query.relation == "disjoint":
        return None
    if query.relation == "near":
        if query.max_distance is None:
            return None
        lon, lat = query.geometry["coordinates"]
        dlat = math.degrees(query.max_distance / EARTH_RADIUS_M) * 1.01
        coslat = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
        dlon = min(180.0, dlat / max(coslat, 1e-6))
        return lon - dlon, lon + dlon, lat - dlat, lat + dlat
    minx, miny, maxx, maxy = query.shape.bounds
    return minx, maxx, miny, maxy
