"""Subscription <-> the document the backends keep (SQLite's `doc` column, MongoDB's `_ab_doc`).

Parsed expressions are not stored: they are parsed again on load. A stored subscription that no
longer parses (e.g. a `q` another broker accepted) is logged and skipped, never fatal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from broker.logs import event
from broker.ngsi.errors import NgsiError
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.subscription import (
    Condition,
    EntityPattern,
    HttpTarget,
    MqttTarget,
    Notification,
    Subscription,
    SubscriptionStatus,
)

_PARSED = ("q_ast", "mq_ast", "geo")


def parsed_condition(**fields: Any) -> Condition:
    """A condition from its stored texts, with `q`, `mq` and the geo-query parsed for matching."""
    geo = None
    if fields.get("georel") or fields.get("geometry") or fields.get("coords"):
        geo = parse_geo_query(fields.get("georel"), fields.get("geometry"), fields.get("coords"))
    return Condition(
        **fields,
        q_ast=parse_q(fields["q"]) if fields.get("q") else None,
        mq_ast=parse_mq(fields["mq"]) if fields.get("mq") else None,
        geo=geo,
    )


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


def delivery_from_doc(doc: dict[str, Any] | None) -> SubscriptionStatus | None:
    """The counters as stored; None when none were ever saved (an empty document)."""
    return SubscriptionStatus(**doc) if doc else None


def from_doc(doc: dict[str, Any], delivery: dict[str, Any] | None = None) -> Subscription:
    c = dict(doc["condition"])
    for key in ("attrs", "alteration_types"):
        c[key] = tuple(c.get(key) or ())
    condition = parsed_condition(**c)
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


def loadable(sub_id: Any, tenant: Any, decode: Callable[[], Subscription]) -> Subscription | None:
    """`decode()`'s subscription, or None (logged) when the stored one cannot be read any more."""
    try:
        return decode()
    except (NgsiError, KeyError, TypeError, ValueError) as exc:  # e.g. a `q` another broker accepted
        event(
            logging.ERROR,
            "stored subscription not loaded",
            subscription=sub_id,
            tenant=tenant,
            error=getattr(exc, "description", None) or repr(exc),
        )
        return None
