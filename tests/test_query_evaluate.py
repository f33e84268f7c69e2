"""In-memory evaluation of `q` / `mq` with Orion's MongoDB semantics."""

from __future__ import annotations

from typing import Any

import pytest

from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.query import matches, parse_mq, parse_q

JAN_2018 = 1514764800.0
JAN_2019 = 1546300800.0


def entity(**attrs: Any) -> Entity:
    """An entity whose attributes are given as values (Attribute instances are kept as they are)."""
    built = {name: v if isinstance(v, Attribute) else Attribute("Any", v) for name, v in attrs.items()}
    return Entity("E1", "T", attrs=built, cre_date=JAN_2018, mod_date=JAN_2019)


def q(text: str, e: Entity) -> bool:
    return matches(parse_q(text), e)


def mq(text: str, e: Entity) -> bool:
    return matches(parse_mq(text), e)


# --- equality and inequality ------------------------------------------------------------------


def test_equal_number_matches_int_and_float_values() -> None:
    assert q("t==40", entity(t=40)) and q("t==40", entity(t=40.0))


def test_equal_number_does_not_match_the_string_of_it() -> None:
    assert not q("t==40", entity(t="40"))


def test_forced_string_matches_only_the_string() -> None:
    assert q("t=='40'", entity(t="40")) and not q("t=='40'", entity(t=40))


def test_equal_true_does_not_match_number_one() -> None:
    assert q("b==true", entity(b=True)) and not q("b==true", entity(b=1))


def test_equal_number_one_does_not_match_true() -> None:
    assert not q("b==1", entity(b=True))


def test_equal_null_matches_only_null() -> None:
    assert q("n==null", entity(n=None)) and not q("n==null", entity(n=0))


def test_colon_is_equal() -> None:
    assert q("s:on", entity(s="on"))


def test_not_equal_matches_a_different_value() -> None:
    assert q("t!=41", entity(t=40))


def test_not_equal_matches_a_value_of_another_type() -> None:
    assert q("t!=41", entity(t="x"))


def test_not_equal_on_missing_attribute_does_not_match() -> None:
    assert not q("t!=41", entity(other=1))


def test_not_equal_null_needs_the_attribute() -> None:
    assert q("n!=null", entity(n=3)) and not q("n!=null", entity(n=None)) and not q("n!=null", entity())


def test_equal_on_missing_attribute_does_not_match() -> None:
    assert not q("t==1", entity())


# --- lists and ranges ----------------------------------------------------------------------


def test_list_matches_any_element() -> None:
    assert q("c==black,red", entity(c="red")) and not q("c==black,red", entity(c="white"))


def test_not_equal_list_matches_none_of_the_elements() -> None:
    assert q("c!=black,red", entity(c="white")) and not q("c!=black,red", entity(c="black"))


def test_range_is_inclusive() -> None:
    for value in (10, 15, 20):
        assert q("t==10..20", entity(t=value))
    assert not q("t==10..20", entity(t=21))


def test_not_equal_range_excludes_the_bounds() -> None:
    assert q("t!=10..20", entity(t=9)) and not q("t!=10..20", entity(t=10))


def test_string_range_is_lexicographic() -> None:
    assert q("s==b..d", entity(s="c")) and q("s==b..d", entity(s="d")) and not q("s==b..d", entity(s="da"))


def test_date_range_against_datetime_attribute() -> None:
    e = entity(d=Attribute("DateTime", JAN_2018 + 10))
    assert q("d==2018-01-01..2019-01-01", e) and not q("d==2019-01-01..2020-01-01", e)


def test_number_range_does_not_match_strings() -> None:
    assert not q("t==1..9", entity(t="5"))


# --- ordering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t>20", True),
        ("t>21", False),
        ("t<22", True),
        ("t<21", False),
        ("t>=21", True),
        ("t<=21", True),
        ("t>=22", False),
    ],
)
def test_ordering_on_numbers(text: str, expected: bool) -> None:
    assert q(text, entity(t=21)) is expected


def test_ordering_on_strings_is_lexicographic() -> None:
    assert q("s>B", entity(s="a")) and not q("s<B", entity(s="a"))


def test_ordering_never_crosses_types() -> None:
    e = entity(t="50")
    assert not q("t>1", e) and not q("t<1", e) and not q("t>=1", e) and not q("t<=1", e)


def test_less_or_equal_on_missing_attribute_does_not_match() -> None:
    assert not q("t<=5", entity())


def test_boolean_is_not_a_number_for_ordering() -> None:
    assert not q("b>0", entity(b=True))


def test_date_compares_with_datetime_attribute() -> None:
    e = entity(d=Attribute("DateTime", JAN_2019))
    assert q("d>2018-06-01T00:00:00Z", e) and not q("d<2018-06-01", e)


def test_date_does_not_match_a_date_string_in_a_compound() -> None:
    assert not q("c.when>2018-01-01", entity(c={"when": "2019-01-01T00:00:00Z"}))


# --- pattern --------------------------------------------------------------------------------


def test_pattern_searches_strings() -> None:
    assert q("color~=ow", entity(color="yellow")) and not q("color~=ow", entity(color="black"))


def test_pattern_anchors_work() -> None:
    assert q("color~=^bl", entity(color="black")) and not q("color~=^bl", entity(color="cobalt"))


def test_pattern_never_matches_numbers() -> None:
    assert not q("n~=1", entity(n=1))


# --- existence ------------------------------------------------------------------------------


def test_exists_and_not_exists() -> None:
    e = entity(t=None)
    assert q("t", e) and not q("!t", e) and q("!x", e) and not q("x", e)


def test_compound_exists() -> None:
    e = entity(a={"b": {"c": 1}})
    assert q("a.b.c", e) and not q("a.b.d", e) and q("!a.x", e) and not q("!a.b", e)


def test_compound_not_exists_when_attribute_missing() -> None:
    assert q("!a.b", entity())


def test_unary_date_created_is_an_attribute_name_test() -> None:
    assert not q("dateCreated", entity(t=1)) and q("!dateCreated", entity(t=1))


# --- compound paths and arrays ----------------------------------------------------------------


def test_compound_path_equality() -> None:
    e = entity(brand={"name": "Acme", "info": {"year": 1999}})
    assert q("brand.name==Acme", e) and q("brand.info.year>1990", e) and not q("brand.info.year<1990", e)


def test_quoted_attribute_name_with_dot() -> None:
    e = entity(**{"a.b": {"x.y": 3}})
    assert q("'a.b'.'x.y'==3", e) and q("'a.b'", e)


def test_compound_path_on_missing_key_does_not_match_not_equal() -> None:
    assert not q("a.z!=1", entity(a={"b": 1}))


def test_array_value_matches_when_any_element_equals() -> None:
    e = entity(colors=["red", "blue"])
    assert q("colors==blue", e) and not q("colors==green", e)


def test_array_value_not_equal_needs_no_element_equal() -> None:
    e = entity(colors=["red", "blue"])
    assert not q("colors!=red", e) and q("colors!=green", e)


def test_path_through_array_of_objects_matches_any_element() -> None:
    e = entity(items=[{"n": 1}, {"n": 5}])
    assert q("items.n==5", e) and q("items.n>4", e) and not q("items.n>5", e)


def test_numeric_path_segment_indexes_arrays() -> None:
    e = entity(v=[10, 20])
    assert q("v.1==20", e) and not q("v.0==20", e) and not q("v.2", e)


def test_range_bounds_may_be_met_by_different_array_elements() -> None:
    assert q("v==10..20", entity(v=[5, 25]))


def test_nested_arrays_are_not_traversed_implicitly() -> None:
    assert not q("a.b==1", entity(a=[[{"b": 1}]]))


# --- built-in dates ---------------------------------------------------------------------------


def test_date_created_and_modified_use_entity_dates() -> None:
    e = entity(t=1)
    assert q("dateCreated==2018-01-01", e) and q("dateModified>2018-06-01", e) and not q("dateCreated>2018-06-01", e)


def test_date_expires_is_an_ordinary_datetime_attribute() -> None:
    e = entity(dateExpires=Attribute("DateTime", JAN_2019))
    assert q("dateExpires<2020-01-01", e) and not q("dateExpires<2018-06-01", entity())


# --- mq -------------------------------------------------------------------------------------


def md_entity() -> Entity:
    accuracy = Metadata("Number", 0.5)
    unit = Metadata("StructuredValue", {"name": "celsius", "codes": ["C", "CEL"]})
    when = Metadata("DateTime", JAN_2018)
    metadata = {"accuracy": accuracy, "unit": unit, "when": when}
    temp = Attribute("Number", 21, metadata, cre_date=100.0, mod_date=200.0)
    return Entity("E1", "T", attrs={"temperature": temp, "plain": Attribute("Number", 1)})


def test_mq_compares_metadata_values() -> None:
    e = md_entity()
    assert mq("temperature.accuracy<1", e) and not mq("temperature.accuracy>1", e)


def test_mq_existence() -> None:
    e = md_entity()
    assert mq("temperature.accuracy", e) and mq("!plain.accuracy", e) and mq("!missing.accuracy", e)
    assert not mq("plain.accuracy", e)


def test_mq_compound_path_into_metadata_value() -> None:
    e = md_entity()
    assert mq("temperature.unit.name==celsius", e) and mq("temperature.unit.codes==CEL", e)


def test_mq_metadata_date() -> None:
    assert mq("temperature.when==2018-01-01", md_entity())


def test_mq_builtin_dates_are_the_attribute_dates() -> None:
    e = md_entity()
    assert mq("temperature.dateCreated==100", e) and mq("temperature.dateModified>150", e)
    assert mq("temperature.dateCreated", e) and not mq("missing.dateCreated", e)


def test_mq_not_equal_on_missing_metadata_does_not_match() -> None:
    assert not mq("plain.accuracy!=3", md_entity())


# --- and ----------------------------------------------------------------------------------------


def test_statements_are_anded() -> None:
    e = entity(t=21, s="on")
    assert q("t>20;s==on", e) and not q("t>20;s==off", e)
