from __future__ import annotations

from broker.ngsi.changes import ChangeEvent
from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.subscriptions.matcher import triggers

NOW = 1000.0


def _sub(**kw) -> Subscription:
    base = dict(
        id="s1",
        tenant="",
        service_path="/#",
        entities=(EntityPattern(id_pattern=".*", type="Room"),),
        condition=Condition(),
        notification=Notification(target=HttpTarget(url="http://x")),
    )
    base.update(kw)
    return Subscription(**base)


def _entity(temp: float = 20, sp: str = "/", md: str | None = None) -> Entity:
    metadata = {"unit": Metadata("Text", md)} if md else {}
    return Entity("R1", "Room", sp, {"temp": Attribute("Number", temp, metadata), "hum": Attribute("Number", 50)})


def _update(before: Entity, after: Entity, attrs=("temp",)) -> ChangeEvent:
    return ChangeEvent("", before, after, attrs)


def test_create_and_change_trigger_by_default_but_not_a_same_value_update():
    sub = _sub()
    assert triggers(sub, ChangeEvent("", None, _entity(), ("temp", "hum")), NOW)
    assert triggers(sub, _update(_entity(20), _entity(21)), NOW)
    assert not triggers(sub, _update(_entity(20), _entity(20)), NOW)
    assert not triggers(sub, ChangeEvent("", _entity(), None, ()), NOW)


def test_entity_update_alteration_type_fires_without_a_change():
    sub = _sub(condition=Condition(alteration_types=("entityUpdate",)))
    assert triggers(sub, _update(_entity(20), _entity(20)), NOW)
    assert not triggers(sub, ChangeEvent("", None, _entity(), ("temp",)), NOW)


def test_entity_delete_alteration_type():
    sub = _sub(condition=Condition(alteration_types=("entityDelete",)))
    assert triggers(sub, ChangeEvent("", _entity(), None, ()), NOW)
    assert not triggers(sub, _update(_entity(20), _entity(21)), NOW)


def test_condition_attrs_require_one_of_them_to_change():
    sub = _sub(condition=Condition(attrs=("hum",)))
    assert not triggers(sub, _update(_entity(20), _entity(21)), NOW)
    after = _entity(20)
    after.attrs["hum"] = Attribute("Number", 51)
    assert triggers(sub, _update(_entity(20), after, ("hum",)), NOW)


def test_metadata_only_change_respects_notify_on_metadata_change():
    assert triggers(_sub(), _update(_entity(md="C"), _entity(md="F")), NOW)
    quiet = _sub(condition=Condition(notify_on_metadata_change=False))
    assert not triggers(quiet, _update(_entity(md="C"), _entity(md="F")), NOW)


def test_q_expression_is_evaluated_on_the_new_entity():
    sub = _sub(condition=Condition(q="temp>25", q_ast=parse_q("temp>25")))
    assert not triggers(sub, _update(_entity(20), _entity(21)), NOW)
    assert triggers(sub, _update(_entity(20), _entity(30)), NOW)


def test_type_id_and_service_path_must_match():
    assert not triggers(_sub(entities=(EntityPattern(id="R2", type="Room"),)), _update(_entity(1), _entity(2)), NOW)
    assert not triggers(_sub(entities=(EntityPattern(id="R1", type="Car"),)), _update(_entity(1), _entity(2)), NOW)
    scoped = _sub(service_path="/a/#")
    assert triggers(scoped, _update(_entity(1, "/a/b"), _entity(2, "/a/b")), NOW)
    assert not triggers(scoped, _update(_entity(1, "/b"), _entity(2, "/b")), NOW)


def test_inactive_and_expired_subscriptions_never_trigger():
    event = _update(_entity(1), _entity(2))
    assert not triggers(_sub(status="inactive"), event, NOW)
    assert not triggers(_sub(expires=NOW - 1), event, NOW)
    assert triggers(_sub(expires=NOW + 1), event, NOW)
    assert triggers(_sub(status="oneshot"), event, NOW)


def _only_changed(**kw) -> Subscription:
    n = dict(target=HttpTarget(url="http://x"), only_changed_attrs=True)
    n.update(kw.pop("notification", {}))
    return _sub(notification=Notification(**n), **kw)


def test_only_changed_attrs_sends_nothing_when_nothing_changed():
    sub = _only_changed(condition=Condition(alteration_types=("entityUpdate",)))
    assert not triggers(sub, _update(_entity(20), _entity(20)), NOW)
    assert triggers(sub, _update(_entity(20), _entity(21)), NOW)


def test_only_changed_attrs_needs_a_changed_attribute_among_the_notified_ones():
    after = _entity(20)
    after.attrs["hum"] = Attribute("Number", 51)
    event = _update(_entity(20), after, ("temp", "hum"))
    assert not triggers(_only_changed(notification={"attrs": ("temp",)}), event, NOW)
    assert triggers(_only_changed(notification={"attrs": ("hum",)}), event, NOW)
    assert not triggers(_only_changed(notification={"except_attrs": ("hum",)}), event, NOW)


def test_forced_update_counts_the_named_attributes_as_changed():
    forced = ChangeEvent("", _entity(20), _entity(20), ("temp",), forced=True)
    assert forced.alteration == "entityChange"
    assert forced.changed_attrs(True) == ("temp",)
    assert triggers(_sub(), forced, NOW)
    assert triggers(_only_changed(notification={"attrs": ("temp",)}), forced, NOW)
    assert not triggers(_sub(condition=Condition(attrs=("hum",))), forced, NOW)


def test_mq_expression_is_evaluated_on_the_metadata():
    mq = "temp.unit==C"
    sub = _sub(condition=Condition(mq=mq, mq_ast=parse_mq(mq)))
    assert triggers(sub, _update(_entity(1, md="F"), _entity(2, md="C")), NOW)
    assert not triggers(sub, _update(_entity(1, md="C"), _entity(2, md="F")), NOW)
    assert not triggers(sub, _update(_entity(1), _entity(2)), NOW)


def test_q_on_the_builtin_service_path():
    q = "servicePath==/a"
    sub = _sub(condition=Condition(q=q, q_ast=parse_q(q)))
    assert triggers(sub, _update(_entity(1, "/a"), _entity(2, "/a")), NOW)
    assert not triggers(sub, _update(_entity(1, "/b"), _entity(2, "/b")), NOW)


def test_jexl_expression_in_the_condition_must_be_true():
    sub = _sub(condition=Condition(jexl="temp > 25 && id == 'R1'"))
    assert triggers(sub, _update(_entity(20), _entity(30)), NOW)
    assert not triggers(sub, _update(_entity(30), _entity(21)), NOW)
    truthy_but_not_true = _sub(condition=Condition(jexl="temp"))
    assert not triggers(truthy_but_not_true, _update(_entity(20), _entity(30)), NOW)
    broken = _sub(condition=Condition(jexl="temp >"))  # an error is null: never true
    assert not triggers(broken, _update(_entity(20), _entity(30)), NOW)
