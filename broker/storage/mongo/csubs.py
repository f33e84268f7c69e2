"""Subscription documents in Orion's `csubs` layout, plus our codec's document kept faithfully.

Orion's fields are written so that Orion (and its tools) can read our subscriptions; we read back
`_ab_doc`, the `broker.subscriptions.codec` document as JSON bytes, so nothing our model holds is
lost in a mapping (and keys MongoDB would refuse, e.g. in custom `json` payloads, are safe).
Delivery counters go to Orion's `count`, `lastNotification`, ... (integer seconds) and, exactly,
to `_ab_delivery`.
"""

from __future__ import annotations

from typing import Any

import orjson
from bson import ObjectId

DOC = "_ab_doc"
DELIVERY = "_ab_delivery"
THROTTLED = "_ab_throttled"  # start of the current throttling window, set by whichever process opened it
LONG_MAX = 9223372036854775807  # Orion's `expiration` of a permanent subscription

# optional Orion fields: unset when a new version of the subscription no longer has them
OPTIONAL = (
    "description", "timeout", "headers", "qs", "method", "payload", "json", "ngsi",
    "topic", "qos", "retain", "user", "passwd",
)


def subscription_id(sub_id: str) -> ObjectId | str:
    """Orion's `_id` is an ObjectId; ids that are not 24 hex digits stay strings."""
    return ObjectId(sub_id) if ObjectId.is_valid(sub_id) and len(sub_id) == 24 else sub_id


def _entities(patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in patterns:
        is_pattern = p.get("id") is None
        is_type_pattern = p.get("type") is None and p.get("type_pattern") is not None
        out.append(
            {
                "id": (p.get("id_pattern") or ".*") if is_pattern else p["id"],
                "isPattern": "true" if is_pattern else "false",
                "type": (p.get("type_pattern") if is_type_pattern else p.get("type")) or "",
                "isTypePattern": is_type_pattern,
            }
        )
    return out


def _target_fields(target: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"reference": target["url"], "custom": bool(target.get("custom"))}
    if target.get("kind") == "mqtt":
        fields.update(topic=target["topic"], qos=target.get("qos", 0), retain=bool(target.get("retain")))
        for key in ("user", "passwd"):
            if target.get(key) is not None:
                fields[key] = target[key]
    else:
        if target.get("timeout") is not None:
            fields["timeout"] = target["timeout"]
        if target.get("custom"):
            for key in ("headers", "qs"):
                if target.get(key):
                    fields[key] = target[key]
            if target.get("method"):
                fields["method"] = target["method"]
    if target.get("custom"):
        if target.get("payload_set") or target.get("payload") is not None:
            fields["payload"] = target.get("payload")
        if target.get("json") is not None:
            fields["json"] = target["json"]
        if target.get("ngsi") is not None:
            fields["ngsi"] = target["ngsi"]
    return fields


def to_csubs(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `csubs` document (without `_id` and the counters) for a codec document."""
    c, n = doc["condition"], doc["notification"]
    expression = {k: c.get(k) or "" for k in ("q", "mq", "geometry", "coords", "georel")}
    fields: dict[str, Any] = {
        "expiration": int(doc["expires"]) if doc.get("expires") is not None else LONG_MAX,
        "throttling": doc.get("throttling") or 0,
        "maxFailsLimit": n.get("max_fails_limit") if n.get("max_fails_limit") is not None else -1,
        "servicePath": doc["service_path"],
        "status": doc.get("status", "active"),
        "entities": _entities(doc["entities"]),
        "attrs": list(n.get("except_attrs") or n.get("attrs") or ()),
        "blacklist": bool(n.get("except_attrs")),
        "metadata": list(n.get("metadata") or ()),
        "conditions": list(c.get("attrs") or ()),
        "expression": expression,
        "altTypes": list(c.get("alteration_types") or ()),
        "onlyChanged": bool(n.get("only_changed_attrs")),
        "covered": bool(n.get("covered")),
        "notifyOnMetadataChange": bool(c.get("notify_on_metadata_change", True)),
        "format": n.get("attrs_format", "normalized"),
        DOC: orjson.dumps(doc),
    }
    if doc.get("description") is not None:
        fields["description"] = doc["description"]
    fields.update(_target_fields(n["target"]))
    return fields


def delivery_fields(delivery: dict[str, Any]) -> dict[str, Any]:
    """Orion's counters (times in integer seconds) and our exact copy."""
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


def from_csubs(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(codec document, delivery counters) of a stored subscription."""
    return orjson.loads(stored[DOC]), dict(stored.get(DELIVERY) or {})
