"""Subscription <-> stored document. Parsed expressions are not stored: they are parsed again on load."""

from __future__ import annotations

import dataclasses
from typing import Any

from broker.ngsi.geo import parse_geo_query
from broker.ngsi.query import parse_mq, parse_q
from broker.subscriptions.model import (
    Condition,
    EntityPattern,
    HttpTarget,
    MqttTarget,
    Notification,
    Subscription,
    SubscriptionStatus,
)

_PARSED = ("q_ast", "mq_ast", "geo")


def to_doc(sub: Subscription) -> dict[str, Any]:
    cond = {k: v for k, v in dataclasses.asdict(sub.condition).items() if k not in _PARSED}
    target = sub.notification.target
    notification = dataclasses.asdict(sub.notification)
    notification["target"] = {
        "kind": "mqtt" if isinstance(target, MqttTarget) else "http",
        **dataclasses.asdict(target),
    }
    return {
        "id": sub.id,
        "tenant": sub.tenant,
        "service_path": sub.service_path,
        "entities": [dataclasses.asdict(p) for p in sub.entities],
        "condition": cond,
        "notification": notification,
        "description": sub.description,
        "status": sub.status,
        "expires": sub.expires,
        "throttling": sub.throttling,
        "owner": sub.owner,
        "owner_roles": list(sub.owner_roles),
        "created_at": sub.created_at,
    }


def delivery_to_doc(status: SubscriptionStatus) -> dict[str, Any]:
    return dataclasses.asdict(status)


def from_doc(doc: dict[str, Any], delivery: dict[str, Any] | None = None) -> Subscription:
    c = dict(doc["condition"])
    for key in ("attrs", "alteration_types"):
        c[key] = tuple(c.get(key) or ())
    geo = None
    if c.get("georel") or c.get("geometry") or c.get("coords"):
        geo = parse_geo_query(c.get("georel"), c.get("geometry"), c.get("coords"))
    condition = Condition(
        **c,
        q_ast=parse_q(c["q"]) if c.get("q") else None,
        mq_ast=parse_mq(c["mq"]) if c.get("mq") else None,
        geo=geo,
    )
    n = dict(doc["notification"])
    t = dict(n.pop("target"))
    kind = t.pop("kind")
    target: HttpTarget | MqttTarget = MqttTarget(**t) if kind == "mqtt" else HttpTarget(**t)
    for key in ("attrs", "except_attrs", "metadata"):
        n[key] = tuple(n.get(key) or ())
    return Subscription(
        id=doc["id"],
        tenant=doc["tenant"],
        service_path=doc["service_path"],
        entities=tuple(EntityPattern(**p) for p in doc["entities"]),
        condition=condition,
        notification=Notification(target=target, **n),
        description=doc.get("description"),
        status=doc.get("status", "active"),
        expires=doc.get("expires"),
        throttling=doc.get("throttling"),
        owner=doc.get("owner"),
        owner_roles=tuple(doc.get("owner_roles") or ()),
        created_at=doc.get("created_at", 0.0),
        delivery=SubscriptionStatus(**(delivery or {})),
    )
