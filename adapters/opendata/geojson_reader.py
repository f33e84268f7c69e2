"""GeoJSON FeatureCollections: each feature's properties are its fields, its geometry becomes `location`."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.opendata.records import Dataset, Record

GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


class NotGeoJson(ValueError):
    pass


def _positions(coords: Any) -> list[Any]:
    if (
        isinstance(coords, list)
        and coords
        and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)
    ):
        return [coords]
    if isinstance(coords, list) and coords:
        return [p for c in coords for p in _positions(c)]
    raise ValueError("coordinates are not nested arrays of numbers")


def geometry_problem(geometry: Any) -> str | None:
    """Why a geometry cannot be stored as `geo:json`, or None."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        return "geometry is not a GeoJSON Point, LineString, Polygon or Multi- of them"
    try:
        positions = _positions(geometry.get("coordinates"))
    except ValueError as e:
        return f"geometry: {e}"
    for p in positions:
        if len(p) < 2:
            return "geometry has a position with fewer than two numbers"
        lon, lat = p[0], p[1]
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            return f"geometry has position ({lon}, {lat}) outside longitude [-180, 180] / latitude [-90, 90]"
    return None


def read_geojson(name: str, data: bytes) -> Dataset:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise NotGeoJson(f"{name} is not valid JSON: {e}") from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection" and isinstance(doc.get("features"), list):
        features = doc["features"]
    else:
        raise NotGeoJson(f"{name} is not a GeoJSON FeatureCollection")
    dataset = Dataset(name, "geojson", encoding="utf-8")
    for n, feature in enumerate(features, start=1):
        label = f"feature {n}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            dataset.records.append(Record(label, {}, problem="is not a GeoJSON Feature"))
            continue
        props = feature.get("properties") or {}
        geometry = feature.get("geometry")
        problem = None if geometry is None else geometry_problem(geometry)
        if not isinstance(props, dict):
            props, problem = {}, "properties is not an object"
        dataset.records.append(Record(label, dict(props), geometry, problem))
    return dataset
