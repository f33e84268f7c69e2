"""The MongoDB compilation of filters and orders, as documents (no server needed)."""

from __future__ import annotations

from broker.ngsi.context import ServicePathScope
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.query.ast import Compare, Path, Query
from broker.ngsi.selection import EntityFilter, EntitySelector, OrderKey
from broker.storage.mongo.filters import FALSE, entity_filter, near_stage, scopes_filter, sort_spec


def test_empty_filter_selects_everything() -> None:
    assert entity_filter(EntityFilter()) == {}


def test_ids_types_and_patterns_look_at_the_compound_key() -> None:
    flt = EntityFilter(ids=("E1", "E2"), type_pattern="^Ro")
    assert entity_filter(flt) == {"$and": [{"_id.id": {"$in": ["E1", "E2"]}}, {"_id.type": {"$regex": "^Ro"}}]}


def test_an_invalid_pattern_matches_nothing() -> None:
    assert entity_filter(EntityFilter(id_pattern="(")) == FALSE


def test_selectors_are_alternatives() -> None:
    flt = EntityFilter(selectors=(EntitySelector(ids=("A",)), EntitySelector(types=("T",))))
    assert entity_filter(flt) == {"$or": [{"_id.id": {"$in": ["A"]}}, {"_id.type": {"$in": ["T"]}}]}


def test_a_subtree_scope_is_the_path_and_a_key_range_below_it() -> None:
    assert scopes_filter((ServicePathScope("/a", recursive=True),)) == {
        "$or": [{"_id.servicePath": "/a"}, {"_id.servicePath": {"$gte": "/a/", "$lt": "/a0"}}]
    }
    assert scopes_filter((ServicePathScope("/a"), ServicePathScope("/b"))) == {"_id.servicePath": {"$in": ["/a", "/b"]}}
    assert scopes_filter((ServicePathScope("/", recursive=True),)) == {}


def test_unary_statements_test_attribute_names_as_orion() -> None:
    assert entity_filter(EntityFilter(q=parse_q("temp"))) == {"attrNames": "temp"}
    assert entity_filter(EntityFilter(q=parse_q("!temp"))) == {"attrNames": {"$ne": "temp"}}


def test_equality_keeps_the_value_kind() -> None:
    assert entity_filter(EntityFilter(q=parse_q("t==40"))) == {"attrs.t.value": 40.0}
    assert entity_filter(EntityFilter(q=parse_q("t=='40'"))) == {"attrs.t.value": "40"}
    assert entity_filter(EntityFilter(q=parse_q("t==true"))) == {"attrs.t.value": True}
    assert entity_filter(EntityFilter(q=parse_q("t==null"))) == {"attrs.t.value": {"$type": "null"}}


def test_not_equal_needs_the_target_to_exist() -> None:
    assert entity_filter(EntityFilter(q=parse_q("t!=1,2"))) == {
        "$and": [{"attrs.t.value": {"$exists": True}}, {"$nor": [{"attrs.t.value": {"$in": [1.0, 2.0]}}]}]
    }


def test_ranges_dates_and_ordering_operators() -> None:
    assert entity_filter(EntityFilter(q=parse_q("t==1..3"))) == {"attrs.t.value": {"$gte": 1.0, "$lte": 3.0}}
    assert entity_filter(EntityFilter(q=parse_q("t>=2018-01-01"))) == {"attrs.t.value": {"$gte": 1514764800.0}}
    assert entity_filter(EntityFilter(q=parse_q("dateModified<2018-01-01"))) == {"modDate": {"$lt": 1514764800.0}}
    booleans = Query((Compare(Path("t"), ">", True),))  # the parser refuses it; the port may not see it
    assert entity_filter(EntityFilter(q=booleans)) == FALSE


def test_compound_paths_and_dotted_names() -> None:
    assert entity_filter(EntityFilter(q=parse_q("'a.b'.c.d==1"))) == {"attrs.a=b.value.c.d": 1.0}
    assert entity_filter(EntityFilter(q=parse_q("a.c"))) == {"attrs.a.value.c": {"$exists": True}}


def test_metadata_statements() -> None:
    assert entity_filter(EntityFilter(mq=parse_mq("t.unit=='cm'"))) == {"attrs.t.md.unit.value": "cm"}
    assert entity_filter(EntityFilter(mq=parse_mq("t.unit"))) == {"attrs.t.md.unit": {"$exists": True}}
    assert entity_filter(EntityFilter(mq=parse_mq("t.dateModified>2018-01-01"))) == {
        "attrs.t.modDate": {"$gt": 1514764800.0}
    }


def test_regular_expressions_only_when_valid() -> None:
    assert entity_filter(EntityFilter(q=parse_q("n~=^r"))) == {"attrs.n.value": {"$regex": "^r"}}
    assert entity_filter(EntityFilter(q=Query((Compare(Path("n"), "~=", "[a"),)))) == FALSE


def test_geo_relations_on_the_location_coords() -> None:
    box = parse_geo_query("coveredBy", "box", "0,0;1,1")
    assert box is not None
    assert entity_filter(EntityFilter(geo=box)) == {"location.coords": {"$geoWithin": {"$geometry": box.geometry}}}
    disjoint = parse_geo_query("disjoint", "point", "1,2")
    assert disjoint is not None
    assert entity_filter(EntityFilter(geo=disjoint)) == {
        "location.coords": {
            "$exists": True,
            "$not": {"$geoIntersects": {"$geometry": {"type": "Point", "coordinates": [2.0, 1.0]}}},
        }
    }


def test_near_is_a_geonear_stage_around_the_rest_of_the_filter() -> None:
    near = parse_geo_query("near;maxDistance:1000", "point", "40,-3")
    assert near is not None
    flt = EntityFilter(types=("T",), geo=near)
    stage = near_stage(near, entity_filter(flt))["$geoNear"]
    assert stage["near"] == {"type": "Point", "coordinates": [-3.0, 40.0]}
    assert stage["maxDistance"] == 1000 and stage["query"] == {"_id.type": {"$in": ["T"]}}
    assert sort_spec((), flt) == [("_ab_seq", 1)]  # Orion keeps creation order under near
    assert sort_spec((OrderKey("geo:distance"),), flt) == [("_ab_distance", 1), ("_ab_seq", 1)]


def test_order_ends_on_creation_and_never_repeats_a_key() -> None:
    order = (OrderKey("temp", descending=True), OrderKey("id"), OrderKey("temp"), OrderKey("geo:distance"))
    assert sort_spec(order, EntityFilter()) == [("attrs.temp.value", -1), ("_id.id", 1), ("_ab_seq", 1)]
    assert sort_spec((OrderKey("a.b", sub=("c",)),), EntityFilter()) == [("attrs.a=b.value.c", 1), ("_ab_seq", 1)]
