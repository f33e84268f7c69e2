"""GeoJSON Points are checked and bounded without shapely, exactly as shapely would decide them."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from broker.ngsi import geo

POINTS = [
    [1.5, 2.5],
    [180, -90],
    [-180, 90.0],
    [180.0000001, 0],
    [0, -90.5],
    [1, 2, 3],
    [True, 2],
    ["1", 2],
    [1],
    [1, 2, 3, 4],
    [None, 2],
    [],
    [1e308, 0],
]


def _by_shapely(geometry: dict) -> str:
    try:
        g = shape(geometry)
    except Exception:
        return "refused"
    if g.is_empty:
        return "refused"
    minx, miny, maxx, maxy = g.bounds
    return "refused" if minx < -180 or maxx > 180 or miny < -90 or maxy > 90 else "accepted"


@pytest.mark.parametrize("coords", POINTS)
def test_a_point_is_accepted_or_refused_as_shapely_decides(coords: list) -> None:
    geometry = {"type": "Point", "coordinates": coords}
    try:
        geo.geojson_geometry(geometry)
        verdict = "accepted"
    except geo.LocationError:
        verdict = "refused"
    assert verdict == _by_shapely(geometry)
    if verdict == "accepted":
        assert geo.bounds(geometry) == shape(geometry).bounds


def test_bounds_of_other_geometries_are_shapely_s() -> None:
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 3], [0, 3], [0, 0]]]}
    assert geo.bounds(polygon) == (0.0, 0.0, 2.0, 3.0)
