"""Which subscriptions a change event triggers (pure: no I/O, no clock of its own).

Orion's rules: the subscription is active (or oneshot) and not expired; its service path covers
the entity's; an entity pattern matches id and type; the alteration type is one it asks for
(default: entityCreate and entityChange); for updates, a condition attribute was updated (any, when
the condition names none); with `onlyChangedAttrs`, a selected attribute changed; the q, mq and
geo expression hold for the entity as it is now.
"""

from __future__ import annotations

from shapely.geometry import shape

from broker.ngsi import geo
from broker.ngsi.changes import ChangeEvent
from broker.ngsi.context import ServicePathScope
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query import matches as q_matches
from broker.ngsi.subscription import DEFAULT_ALTERATION_TYPES, EntityPattern, Subscription
from broker.subscriptions.jexl import compile_expression
from broker.subscriptions.payload import expression_context


def scope_of(service_path: str) -> ServicePathScope:
    if service_path.endswith("/#"):
        return ServicePathScope(service_path[:-2] or "/", True)
    return ServicePathScope(service_path, False)


def pattern_matches(p: EntityPattern, entity_id: str, entity_type: str) -> bool:
    if p.id is not None and p.id != entity_id:
        return False
    if p.id_pattern is not None:
        rx = compile_pattern(p.id_pattern)
        if rx is None or rx.search(entity_id) is None:
            return False
    if p.type is not None and p.type != entity_type:
        return False
    if p.type_pattern is not None:
        rx = compile_pattern(p.type_pattern)
        if rx is None or rx.search(entity_type) is None:
            return False
    return True


def is_live(sub: Subscription, now: float) -> bool:
    if sub.status not in ("active", "oneshot"):
        return False
    return sub.expires is None or sub.expires > now


def changed_to_notify(sub: Subscription, event: ChangeEvent) -> tuple[str, ...]:
    """With `onlyChangedAttrs`: the changed attributes the notification would carry. Orion sends
    nothing when none is left (an update that changed nothing, or only attributes not selected);
    `options=forcedUpdate` counts every attribute the request named as changed."""
    n = sub.notification
    changed = event.changed_attrs(sub.condition.notify_on_metadata_change)
    if n.attrs:
        return tuple(a for a in n.attrs if a in changed)
    return tuple(a for a in changed if a not in n.except_attrs)


def triggers(sub: Subscription, event: ChangeEvent, now: float) -> bool:
    if not is_live(sub, now):
        return False
    entity = event.entity
    if not scope_of(sub.service_path).contains(entity.service_path):
        return False
    if not any(pattern_matches(p, entity.id, entity.type) for p in sub.entities):
        return False
    cond = sub.condition
    alteration = event.alteration
    wanted = cond.alteration_types or DEFAULT_ALTERATION_TYPES
    if alteration == "entityChange" and not cond.notify_on_metadata_change and not event.changed_attrs(False):
        alteration = "entityUpdate"  # only metadata changed, and the subscription ignores that
    if alteration not in wanted and not (alteration == "entityChange" and "entityUpdate" in wanted):
        return False
    if cond.attrs and alteration != "entityDelete":
        if alteration == "entityCreate":
            named = set(entity.attrs)
        elif "entityUpdate" in wanted and alteration == "entityUpdate":
            named = set(event.request_attrs)
        else:
            named = set(event.changed_attrs(cond.notify_on_metadata_change)) | (
                set(event.request_attrs) if "entityUpdate" in wanted else set()
            )
        if not named & set(cond.attrs):
            return False
    if sub.notification.only_changed_attrs and not changed_to_notify(sub, event):
        return False
    if cond.q_ast is not None and not q_matches(cond.q_ast, entity):
        return False
    if cond.mq_ast is not None and not q_matches(cond.mq_ast, entity):
        return False
    if cond.geo is not None:
        if entity.location is None or not geo.matches(cond.geo, shape(entity.location.geometry)):
            return False
    if cond.jexl is not None:  # evaluated last: the other conditions are cheaper
        context = expression_context(entity, sub.tenant, event.auth_token)
        if compile_expression(cond.jexl).evaluate(context) is not True:
            return False
    return True
