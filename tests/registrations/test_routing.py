"""The pure forwarding rules: which provider is asked for what, and how answers are merged."""

from __future__ import annotations

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.query import parse_q
from broker.ngsi.registration import ProvidedEntity, Registration
from broker.ngsi.selection import EntityFilter
from broker.registrations import routing
from broker.registrations.routing import UpdateTarget
from broker.registrations.wire import ForwardedEntity


def reg(
    reg_id: str = "r1",
    entities: tuple[ProvidedEntity, ...] = (ProvidedEntity(id="E1", type="T"),),
    attrs: tuple[str, ...] = ("a",),
    **kw: object,
) -> Registration:
    return Registration(reg_id, "", "/", entities, attrs, "http://cp/v2", **kw)  # type: ignore[arg-type]


def num(value: float) -> Attribute:
    return Attribute("Number", value, {})


def test_expired_and_mode_excluded_registrations_are_not_used() -> None:
    assert routing.usable(reg(), "query", now=100)
    assert not routing.usable(reg(expires=100.0), "query", now=100)
    assert not routing.usable(reg(forwarding_mode="update"), "query", now=0)
    assert routing.usable(reg(forwarding_mode="update"), "update", now=0)
    assert not routing.usable(reg(forwarding_mode="none"), "update", now=0)
    assert routing.usable(reg(status="inactive"), "query", now=0)  # Orion ignores the status


def test_queries_use_registrations_of_the_paths_read_and_updates_exactly_the_path_written() -> None:
    park = Registration("r", "", "/park/north", (), ("a",), "http://cp")
    assert routing.for_query([park], (ServicePathScope("/park", recursive=True),), 0) == [park]
    assert routing.for_query([park], (ServicePathScope("/park"),), 0) == []
    assert routing.for_update([park], "/park", 0) == []
    assert routing.for_update([park], "/park/north", 0) == [park]


def test_entity_read_asks_only_for_registered_attributes_missing_here() -> None:
    local = Entity("E1", "T", attrs={"a": num(1)})
    both = reg(attrs=("a", "b"))
    (target,) = routing.plan_entity([both], "E1", "T", None, local)
    assert (target.entity, target.attrs) == (ForwardedEntity("E1", None, "T"), ("b",))
    assert routing.plan_entity([reg(attrs=("a",))], "E1", "T", None, local) == []
    assert routing.plan_entity([both], "E1", "T", ["a"], local) == []


def test_typed_request_does_not_match_a_registration_of_another_type() -> None:
    assert routing.plan_entity([reg()], "E1", "Other", None, None) == []
    (untyped,) = routing.plan_entity([reg()], "E1", None, None, None)
    assert untyped.entity.type == "T"


def test_registration_of_every_attribute_is_asked_for_all_or_for_those_missing() -> None:
    every = reg(attrs=())
    local = Entity("E1", "T", attrs={"a": num(1)})
    assert routing.plan_entity([every], "E1", "T", None, local)[0].attrs == ()
    assert routing.plan_entity([every], "E1", "T", ["a", "b"], local)[0].attrs == ("b",)
    assert routing.plan_entity([every], "E1", "T", ["dateCreated"], local) == []


def test_pattern_registration_serves_a_read_by_id_and_a_list_by_type() -> None:
    pattern = reg(entities=(ProvidedEntity(id_pattern=".*", type="T"),), attrs=())
    assert routing.plan_entity([pattern], "E9", "T", None, None)[0].entity == ForwardedEntity("E9", None, "T")
    (target,) = routing.plan_list([pattern], EntityFilter(types=("T",)), None, [])
    assert target.entity == ForwardedEntity(None, ".*", "T")
    assert routing.plan_list([pattern], EntityFilter(types=("U",)), None, []) == []


def test_list_with_a_geographical_condition_is_not_forwarded() -> None:
    from broker.ngsi.geo import parse_geo_query

    geo = parse_geo_query("near;maxDistance:10", "point", "1,2")
    pattern = reg(entities=(ProvidedEntity(id_pattern=".*", type="T"),), attrs=())
    assert routing.plan_list([pattern], EntityFilter(types=("T",), geo=geo), None, []) == []


def test_merge_completes_local_attributes_and_local_values_win() -> None:
    local = Entity("E1", "T", attrs={"a": num(1)})
    remote = Entity("E1", "T", attrs={"a": num(9), "b": num(2)})
    merged = routing.merge_entity(local, [remote, Entity("E2", "T", attrs={"c": num(3)})], "E1", "T")
    assert merged is not None and {n: a.value for n, a in merged.attrs.items()} == {"a": 1, "b": 2}


def test_list_merge_drops_provider_entities_outside_the_query() -> None:
    flt = EntityFilter(types=("T",), q=parse_q("a>5"))
    answers = [Entity("E2", "T", attrs={"a": num(9)}), Entity("E3", "T", attrs={"a": num(1)}), Entity("X", "U")]
    merged = routing.merge_list([Entity("E1", "T", attrs={"a": num(7)})], answers, flt)
    assert [e.id for e in merged] == ["E1", "E2"]


def test_update_keeps_attributes_held_here_and_routes_registered_others() -> None:
    local = Entity("E1", "T", attrs={"a": num(1)})
    targets: dict[str, UpdateTarget] = {}
    kept = routing.plan_update(
        [reg(attrs=("a", "b"))], "E1", None, {"a": num(2), "b": num(3), "c": num(4)}, local, targets
    )
    assert set(kept) == {"a", "c"}
    (target,) = targets.values()
    assert [(eid, etype, set(attrs)) for eid, etype, attrs in target.entities] == [("E1", "T", {"b"})]


def test_update_of_an_entity_not_held_here_goes_to_its_provider_by_the_first_registration() -> None:
    targets: dict[str, UpdateTarget] = {}
    first, second = reg("r1", attrs=()), reg("r2", attrs=("a",))
    kept = routing.plan_update([first, second], "E1", "T", {"a": num(2)}, None, targets)
    assert kept == {} and list(targets) == ["r1"]


def test_queries_to_one_provider_about_one_entity_are_merged() -> None:
    first, second = reg("r1", attrs=("a",)), reg("r2", attrs=("b",))
    other = Registration("r3", "", "/", first.entities, ("c",), "http://elsewhere/v2")
    targets = routing.plan_entity([first, second, other], "E1", "T", None, None)

    merged = routing.merge_queries(targets)

    assert [(t.registration.id, t.attrs) for t in merged] == [("r1", ("a", "b")), ("r3", ("c",))]
    every = routing.merge_queries(routing.plan_entity([first, reg("r4", attrs=())], "E1", "T", None, None))
    assert [(t.registration.id, t.attrs) for t in every] == [("r1", ())]


def test_queries_of_registrations_by_different_creators_are_not_merged() -> None:
    mine, theirs = reg("r1", attrs=("a",), owner="alice"), reg("r2", attrs=("b",), owner="bob")
    assert len(routing.merge_queries(routing.plan_entity([mine, theirs], "E1", "T", None, None))) == 2


def test_update_for_one_provider_is_one_request_with_one_entry_per_entity() -> None:
    targets: dict[str, UpdateTarget] = {}
    regs = [reg("r1", attrs=("a",)), reg("r2", attrs=("b",)), reg("r3", (ProvidedEntity(id="E2", type="T"),))]
    routing.plan_update(regs, "E1", "T", {"a": num(1), "b": num(2)}, None, targets)
    routing.plan_update(regs, "E2", "T", {"a": num(3)}, None, targets)

    (target,) = targets.values()
    assert list(targets) == ["r1"]
    assert [(eid, set(attrs)) for eid, _, attrs in target.entities] == [("E1", {"a", "b"}), ("E2", {"a"})]


def test_list_projected_on_other_attributes_still_asks_a_provider_for_entities_not_held_here() -> None:
    pattern = reg(entities=(ProvidedEntity(id_pattern=".*", type="T"),), attrs=("b",))
    (target,) = routing.plan_list([pattern], EntityFilter(types=("T",)), ["a"], [])
    assert (target.entity, target.attrs) == (ForwardedEntity(None, ".*", "T"), ("a",))
    by_id = reg(attrs=("b",))
    assert routing.plan_list([by_id], EntityFilter(types=("T",)), ["a"], [Entity("E1", "T")]) == []
    # a read by id is no list: nothing registered is asked for, nothing is asked
    assert routing.plan_entity([by_id], "E1", "T", ["a"], None) == []


def test_deprecated_attributes_filter_drops_provider_entities_without_any_of_them() -> None:
    flt = EntityFilter(types=("T",), any_attrs=("a",))
    answers = [Entity("E1", "T", attrs={"a": num(1)}), Entity("E2", "T", attrs={"b": num(2)})]
    assert [e.id for e in routing.merge_list([], answers, flt)] == ["E1"]
