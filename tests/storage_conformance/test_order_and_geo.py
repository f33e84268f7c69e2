"""Ordering (Orion's mixed-type order, creation-order ties) and geo-queries, on every backend.

Geo-queries need MongoDB's 2dsphere operators, which FerretDB lacks: their MongoDB runs need
`MONGO_URI` (marked `real_mongo`).
"""

from __future__ import annotations

from typing import Any

import pytest

from broker.ngsi.geo import parse_geo_query
from broker.ngsi.model import Attribute, Entity, Location
from broker.ngsi.selection import EntityFilter, OrderKey, Page


def _with(i: int, value: Any) -> Entity:
    attrs = {} if value is ... else {"v": Attribute("Any", value)}
    return Entity(f"E{i}", "T", "/", attrs, cre_date=float(i), mod_date=float(100 - i))


PAGE = Page(limit=100)


async def _ids(storage, flt: EntityFilter, order: tuple[OrderKey, ...] = (), page: Page = PAGE) -> list[str]:
    return [e.id for e in (await storage.query_entities("t", flt, page, order=order))[0]]


async def test_order_by_an_attribute_breaks_ties_in_creation_order(storage):
    for i, v in enumerate([3, 1, 2, 1, 3, 1]):
        await storage.insert_entity("t", _with(i, v))
    assert await _ids(storage, EntityFilter(), (OrderKey("v"),)) == ["E1", "E3", "E5", "E2", "E0", "E4"]
    assert await _ids(storage, EntityFilter(), (OrderKey("v", descending=True),)) == [
        "E0",
        "E4",
        "E2",
        "E1",
        "E3",
        "E5",
    ]
    pages = [await _ids(storage, EntityFilter(), (OrderKey("v"),), Page(limit=2, offset=o)) for o in (0, 2, 4)]
    assert sum(pages, []) == ["E1", "E3", "E5", "E2", "E0", "E4"]


async def test_mixed_types_sort_in_orions_order(storage):
    values = [True, "b", 2, {"k": 1}, None, ..., "a", 1]
    for i, v in enumerate(values):
        await storage.insert_entity("t", _with(i, v))
    # missing and null first (in creation order), then numbers, strings, objects, booleans
    assert await _ids(storage, EntityFilter(), (OrderKey("v"),)) == ["E4", "E5", "E7", "E2", "E6", "E1", "E3", "E0"]


async def test_order_by_builtins_and_a_compound_path(storage):
    for i in range(3):
        e = _with(i, {"k": 10 - i})
        await storage.insert_entity("t", e)
    assert await _ids(storage, EntityFilter(), (OrderKey("dateModified"),)) == ["E2", "E1", "E0"]
    assert await _ids(storage, EntityFilter(), (OrderKey("id", descending=True),)) == ["E2", "E1", "E0"]
    assert await _ids(storage, EntityFilter(), (OrderKey("v", sub=("k",)),)) == ["E2", "E1", "E0"]


# -- geo ---------------------------------------------------------------------------------------

PLACES = {  # name: (lon, lat)
    "Madrid": (-3.7038, 40.4168),
    "Getafe": (-3.7325, 40.3083),
    "Toledo": (-4.0273, 39.8628),
    "Paris": (2.3522, 48.8566),
}


async def _load_places(storage) -> None:
    for i, (name, (lon, lat)) in enumerate(PLACES.items()):
        point = {"type": "Point", "coordinates": [lon, lat]}
        e = Entity(
            name,
            "City",
            "/",
            {"loc": Attribute("geo:json", point)},
            cre_date=float(i),
            mod_date=float(i),
            location=Location("loc", point),
        )
        assert await storage.insert_entity("t", e)
    assert await storage.insert_entity("t", Entity("Nowhere", "City", cre_date=9.0, mod_date=9.0))


def _geo(georel: str, geometry: str, coords: str):
    geo = parse_geo_query(georel, geometry, coords)
    assert geo is not None
    return geo


@pytest.mark.real_mongo
async def test_near_orders_by_distance_and_counts(storage):
    await _load_places(storage)
    flt = EntityFilter(geo=_geo("near;maxDistance:30000", "point", "40.4168,-3.7038"))
    found, total = await storage.query_entities("t", flt, Page(), count=True)
    assert [e.id for e in found] == ["Madrid", "Getafe"] and total == 2
    far = EntityFilter(geo=_geo("near;minDistance:20000", "point", "40.4168,-3.7038"))
    assert await _ids(storage, far) == ["Toledo", "Paris"]
    by_id = await _ids(storage, flt, (OrderKey("id"),))
    assert by_id == ["Getafe", "Madrid"]


@pytest.mark.real_mongo
async def test_covered_by_intersects_disjoint_and_equals(storage):
    await _load_places(storage)
    box = "39.5,-4.5;40.5,-3.5"  # lat,lon corners around Madrid, Getafe and Toledo
    assert await _ids(storage, EntityFilter(geo=_geo("coveredBy", "box", box))) == ["Madrid", "Getafe", "Toledo"]
    assert await _ids(storage, EntityFilter(geo=_geo("intersects", "box", box))) == ["Madrid", "Getafe", "Toledo"]
    assert await _ids(storage, EntityFilter(geo=_geo("disjoint", "box", box))) == ["Paris"]


async def test_equals_is_the_same_geometry(storage):
    """A plain equality on `location.coords`: FerretDB runs it too."""
    await _load_places(storage)
    assert await _ids(storage, EntityFilter(geo=_geo("equals", "point", "48.8566,2.3522"))) == ["Paris"]
