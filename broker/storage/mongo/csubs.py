"""Subscriptions <-> documents in Orion's `csubs` layout, plus the storage codec's document.

Orion's fields are written from the `Subscription` so that Orion (and its tools) can read our
subscriptions; we read back `_ab_doc`, the `broker.storage.subscription_codec` document as JSON
bytes, so nothing our model holds is lost in a mapping (and keys MongoDB would refuse, e.g. in
custom `json` payloads, are safe). A document Orion wrote has no `_ab_doc`: `from_orion` maps its
fields to a `Subscription` (a database taken over). Delivery counters go to Orion's `count`,
`lastNotification`, ... (integer seconds) and, exactly, to `_ab_delivery`.
"""

from __future__ import annotations

from typing import Any

import orjson
from bson import Int64, ObjectId

from broker.ngsi.model import default_type
from broker.ngsi.subscription import (
    EntityPattern,
    HttpTarget,
    MqttTarget,
    Notification,
    Subscription,
    SubscriptionStatus,
)
from broker.storage.mongo.keys import decode_key, encode_key
from broker.storage.subscription_codec import delivery_to_doc, from_doc, parsed_condition, to_doc

DOC = "_ab_doc"
DELIVERY = "_ab_delivery"
THROTTLED = "_ab_throttled"  # start of the current throttling window, set by whichever process opened it
LONG_MAX = 9223372036854775807  # Orion's `expiration` of a permanent subscription

# optional Orion fields: unset when a new version of the subscription no longer has them
OPTIONAL = (
    "description",
    "timeout",
    "headers",
    "qs",
    "method",
    "payload",
    "json",
    "ngsi",
    "topic",
    "qos",
    "retain",
    "user",
    "passwd",
)


def _entities(patterns: tuple[EntityPattern, ...]) -> list[dict[str, Any]]:
    out = []
    for p in patterns:
        is_pattern = p.id is None
        is_type_pattern = p.type is None and p.type_pattern is not None
        out.append(
            {
                "id": (p.id_pattern or ".*") if is_pattern else p.id,
                "isPattern": "true" if is_pattern else "false",
                "type": (p.type_pattern if is_type_pattern else p.type) or "",
                "isTypePattern": is_type_pattern,
            }
        )
    return out


def _target_fields(target: HttpTarget | MqttTarget) -> dict[str, Any]:
    fields: dict[str, Any] = {"reference": target.url, "custom": bool(target.custom)}
    if isinstance(target, MqttTarget):
        fields.update(topic=target.topic, qos=target.qos, retain=bool(target.retain))
        if target.user is not None:
            fields["user"] = target.user
        if target.passwd is not None:
            fields["passwd"] = target.passwd
    else:
        fields["timeout"] = target.timeout or 0  # Orion: 0, no timeout of its own
        if target.custom:
            if target.headers:
                fields["headers"] = target.headers
            if target.qs:
                fields["qs"] = target.qs
            if target.method:
                fields["method"] = target.method
    if target.custom:
        if target.payload_set or target.payload is not None:
            fields["payload"] = target.payload
        if target.json is not None:
            fields["json"] = target.json
        if target.ngsi is not None:
            fields["ngsi"] = _ngsi_to_orion(target.ngsi)
    return fields


def _ngsi_to_orion(ngsi: dict[str, Any]) -> dict[str, Any]:
    """An `ngsi` patch as Orion stores it: `id`, `type`, `attrs {name: {type, value, mdNames}}`."""
    out: dict[str, Any] = {k: ngsi[k] for k in ("id", "type") if isinstance(ngsi.get(k), str)}
    attrs = {}
    for name, raw in ngsi.items():
        if name in ("id", "type"):
            continue
        value = raw.get("value") if isinstance(raw, dict) else raw
        kind = raw.get("type") if isinstance(raw, dict) and isinstance(raw.get("type"), str) else default_type(value)
        attrs[encode_key(name)] = {"type": kind, "value": value, "mdNames": []}
    out["attrs"] = attrs
    return out


def _ngsi_from_orion(stored: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: stored[k] for k in ("id", "type") if isinstance(stored.get(k), str)}
    for name, attr in (stored.get("attrs") or {}).items():
        out[decode_key(name)] = {"type": attr.get("type"), "value": attr.get("value")}
    return out


def to_csubs(sub: Subscription, now: float) -> dict[str, Any]:
    """The fields of a `csubs` document (without `_id` and the counters) for a subscription
    written at `now` (Orion's `statusLastChange`: every write sets the status)."""
    c, n = sub.condition, sub.notification
    expression = {"q": c.q or "", "mq": c.mq or "", "geometry": c.geometry or "", "coords": c.coords or ""}
    expression["georel"] = c.georel or ""
    if c.jexl:
        expression["jexlExpression"] = c.jexl
    fields: dict[str, Any] = {
        "expiration": Int64(sub.expires) if sub.expires is not None else Int64(LONG_MAX),  # NumberLong
        "throttling": sub.throttling or 0,
        "maxFailsLimit": n.max_fails_limit if n.max_fails_limit is not None else -1,
        "servicePath": sub.service_path,
        "status": sub.status,
        "entities": _entities(sub.entities),
        "attrs": list(n.except_attrs or n.attrs),
        "blacklist": bool(n.except_attrs),
        "metadata": list(n.metadata),
        "conditions": list(c.attrs),
        "expression": expression,
        "altTypes": list(c.alteration_types),
        "onlyChanged": bool(n.only_changed_attrs),
        "covered": bool(n.covered),
        "notifyOnMetadataChange": bool(c.notify_on_metadata_change),
        "format": n.attrs_format,
        "statusLastChange": now,
        DOC: orjson.dumps(to_doc(sub)),
    }
    if sub.description is not None:
        fields["description"] = sub.description
    fields.update(_target_fields(n.target))
    return fields


def delivery_fields(status: SubscriptionStatus) -> dict[str, Any]:
    """Orion's counters (times in integer seconds) and our exact copy."""
    delivery = delivery_to_doc(status)
    fields: dict[str, Any] = {
        "count": delivery.get("times_sent", 0),
        "failsCounter": delivery.get("fails_counter", 0),
        DELIVERY: delivery,
    }
    for ours, orion in (
        ("last_notification", "lastNotification"),
        ("last_success", "lastSuccess"),
        ("last_failure", "lastFailure"),
    ):
        if delivery.get(ours) is not None:
            fields[orion] = int(delivery[ours])
    if delivery.get("last_success_code") is not None:
        fields["lastSuccessCode"] = delivery["last_success_code"]
    if delivery.get("last_failure_reason") is not None:
        fields["lastFailureReason"] = delivery["last_failure_reason"]
    return fields


def from_csubs(stored: dict[str, Any], tenant: str) -> Subscription:
    """The subscription of a stored document, ours or one Orion wrote, with its delivery counters."""
    if DOC not in stored:
        sub = from_orion(stored, tenant)
        sub.delivery = SubscriptionStatus(**(stored.get(DELIVERY) or _orion_delivery(stored)))
        return sub
    delivery = dict(stored.get(DELIVERY) or {})
    # an Orion that ran on this database since updates its own fields in place, not ours: its
    # status (inactive after maxFailsLimit, oneshot done) and counters, when further along, win
    orion = _orion_delivery(stored)
    if orion["times_sent"] > int(delivery.get("times_sent") or 0):
        delivery = {**delivery, **orion}
    sub = from_doc(orjson.loads(stored[DOC]), delivery)
    if stored.get("status") and stored["status"] != sub.status:
        sub.status = stored["status"]
    return sub


def stored_delivery(stored: dict[str, Any] | None) -> SubscriptionStatus | None:
    """Our exact copy of the counters (`_ab_delivery`); None when none were saved."""
    delivery = (stored or {}).get(DELIVERY)
    return SubscriptionStatus(**delivery) if delivery else None


def _flag(value: Any) -> bool:
    """Orion's legacy flags: `isPattern` is the text "true"/"false", the others booleans."""
    return value is True or value == "true"


def _positive(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _entities_from_orion(stored: list[dict[str, Any]]) -> tuple[EntityPattern, ...]:
    out = []
    for e in stored:
        pattern, type_pattern, kind = _flag(e.get("isPattern")), _flag(e.get("isTypePattern")), e.get("type") or None
        out.append(
            EntityPattern(
                id=None if pattern else e.get("id"),
                id_pattern=e.get("id") if pattern else None,
                type=None if type_pattern else kind,
                type_pattern=kind if type_pattern else None,
            )
        )
    return tuple(out)


def _conditions_from_orion(stored: Any) -> list[str]:
    """NGSI-v2 Orion stores names; Orion before 1.x stored `[{type: ONCHANGE, value: [names]}]`."""
    names: list[str] = []
    for c in stored or ():
        if isinstance(c, str):
            names.append(c)
        elif isinstance(c, dict):
            value = c.get("value")
            names += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v]
    return names


def _target_from_orion(stored: dict[str, Any]) -> HttpTarget | MqttTarget:
    url = stored.get("reference", "")
    custom = bool(stored.get("custom"))
    template: dict[str, Any] = {}
    if custom:
        if "payload" in stored:
            template.update(payload=stored["payload"], payload_set=True)
        if stored.get("json") is not None:
            template["json"] = stored["json"]
        if isinstance(stored.get("ngsi"), dict):
            template["ngsi"] = _ngsi_from_orion(stored["ngsi"])
    if "topic" in stored or url.startswith("mqtt://"):
        return MqttTarget(
            url=url,
            custom=custom,
            topic=stored.get("topic", ""),
            qos=int(stored.get("qos") or 0),
            retain=bool(stored.get("retain")),
            user=stored.get("user"),
            passwd=stored.get("passwd"),
            **template,
        )
    if custom:
        template.update(
            method=stored.get("method") or None,
            headers=dict(stored.get("headers") or {}),
            qs=dict(stored.get("qs") or {}),
        )
    return HttpTarget(url=url, custom=custom, timeout=_positive(stored.get("timeout")), **template)


def from_orion(stored: dict[str, Any], tenant: str) -> Subscription:
    """The subscription of a `csubs` document Orion wrote (doc/manuals/admin/database_model.md);
    NgsiError when its expressions do not parse."""
    oid = stored["_id"]
    expression = stored.get("expression") or {}
    names = tuple(stored.get("attrs") or ())
    blacklist = bool(stored.get("blacklist"))
    expiration = stored.get("expiration")
    fmt = stored.get("format") or "normalized"
    condition = parsed_condition(
        **{k: expression.get(k) or None for k in ("q", "mq", "georel", "geometry", "coords")},
        jexl=expression.get("jexlExpression") or None,
        attrs=tuple(_conditions_from_orion(stored.get("conditions"))),
        alteration_types=tuple(stored.get("altTypes") or ()),
        notify_on_metadata_change=stored.get("notifyOnMetadataChange", True) is not False,
    )
    notification = Notification(
        target=_target_from_orion(stored),
        attrs=() if blacklist else names,
        except_attrs=names if blacklist else (),
        attrs_format="normalized" if fmt in ("JSON", "XML") else fmt,  # Orion 0.x wrote "JSON"
        metadata=tuple(stored.get("metadata") or ()),
        only_changed_attrs=bool(stored.get("onlyChanged")),
        covered=bool(stored.get("covered")),
        max_fails_limit=_positive(stored.get("maxFailsLimit")),
    )
    return Subscription(
        id=str(oid),
        tenant=tenant,
        service_path=stored.get("servicePath") or "/",
        entities=_entities_from_orion(stored.get("entities") or []),
        condition=condition,
        notification=notification,
        description=stored.get("description"),
        status=stored.get("status") or "active",
        # permanent: Long max (Orion >= 1.x) or -1 (older)
        expires=float(expiration) if _positive(expiration) is not None and expiration < LONG_MAX else None,
        throttling=_positive(stored.get("throttling")),
        owner=None,
        created_at=oid.generation_time.timestamp() if isinstance(oid, ObjectId) else 0.0,
    )


def _orion_delivery(stored: dict[str, Any]) -> dict[str, Any]:
    """Orion's counters (absent or -1: never) as ours."""
    delivery: dict[str, Any] = {
        "times_sent": int(stored.get("count") or 0),
        "fails_counter": int(stored.get("failsCounter") or 0),
    }
    for orion, ours in (
        ("lastNotification", "last_notification"),
        ("lastSuccess", "last_success"),
        ("lastFailure", "last_failure"),
    ):
        if _positive(stored.get(orion)) is not None:
            delivery[ours] = float(stored[orion])
    if _positive(stored.get("lastSuccessCode")) is not None:
        delivery["last_success_code"] = int(stored["lastSuccessCode"])
    if stored.get("lastFailureReason"):
        delivery["last_failure_reason"] = stored["lastFailureReason"]
    return delivery
