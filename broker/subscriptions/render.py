"""`Subscription` -> the JSON Orion returns for `GET /v2/subscriptions[/{id}]`."""

from __future__ import annotations

from typing import Any

from broker.ngsi.datetimes import format_iso8601
from broker.ngsi.subscription import HttpTarget, MqttTarget, Subscription

PERMANENT = 9223372036854775807.0


def _entity(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.id is not None:
        out["id"] = p.id
    if p.id_pattern is not None:
        out["idPattern"] = p.id_pattern
    if p.type is not None:
        out["type"] = p.type
    if p.type_pattern is not None:
        out["typePattern"] = p.type_pattern
    return out


def _condition(sub: Subscription) -> dict[str, Any]:
    c = sub.condition
    out: dict[str, Any] = {"attrs": list(c.attrs)}
    expression = {k: getattr(c, k) for k in ("q", "mq", "georel", "geometry", "coords") if getattr(c, k)}
    if c.jexl:
        expression["jexlExpression"] = c.jexl
    if expression:
        out["expression"] = expression
    if c.alteration_types:
        out["alterationTypes"] = list(c.alteration_types)
    out["notifyOnMetadataChange"] = c.notify_on_metadata_change
    return out


def _custom_payload(target: HttpTarget | MqttTarget, out: dict[str, Any]) -> None:
    """Orion shows `payload` when it is null (no body) or a non-empty text, never as ""."""
    if target.payload_set and target.payload != "":
        out["payload"] = target.payload
    if target.json is not None:
        out["json"] = target.json
    if target.ngsi is not None:
        out["ngsi"] = target.ngsi


def _target(sub: Subscription) -> tuple[str, dict[str, Any]]:
    t = sub.notification.target
    if isinstance(t, MqttTarget):
        out: dict[str, Any] = {"url": t.url, "topic": t.topic, "qos": t.qos, "retain": t.retain}
        if t.user is not None:
            out["user"] = t.user
            out["passwd"] = "*****"
        if t.custom:
            _custom_payload(t, out)
        return ("mqttCustom" if t.custom else "mqtt"), out
    out = {"url": t.url}
    if t.custom:
        if t.headers:
            out["headers"] = dict(t.headers)
        if t.qs:
            out["qs"] = dict(t.qs)
        if t.method:
            out["method"] = t.method
        _custom_payload(t, out)
    if t.timeout:
        out["timeout"] = t.timeout
    return ("httpCustom" if t.custom else "http"), out


def _notification(sub: Subscription) -> dict[str, Any]:
    n = sub.notification
    d = sub.delivery
    out: dict[str, Any] = {}
    if d.times_sent:
        out["timesSent"] = d.times_sent
    if d.last_notification is not None:
        out["lastNotification"] = format_iso8601(d.last_notification)
    if n.except_attrs:
        out["exceptAttrs"] = list(n.except_attrs)
    else:
        out["attrs"] = list(n.attrs)
    out["onlyChangedAttrs"] = n.only_changed_attrs
    out["attrsFormat"] = n.attrs_format
    kind, target = _target(sub)
    out[kind] = target
    if n.metadata:
        out["metadata"] = list(n.metadata)
    if d.last_failure is not None:
        out["lastFailure"] = format_iso8601(d.last_failure)
        if d.last_failure_reason:
            out["lastFailureReason"] = d.last_failure_reason
    if d.last_success is not None:
        out["lastSuccess"] = format_iso8601(d.last_success)
        if d.last_success_code is not None:
            out["lastSuccessCode"] = d.last_success_code
    if d.fails_counter:
        out["failsCounter"] = d.fails_counter
    if n.max_fails_limit is not None:
        out["maxFailsLimit"] = n.max_fails_limit
    out["covered"] = n.covered
    return out


def shown_status(sub: Subscription, now: float) -> str:
    """`expired` once `expires` has passed, else the stored status, as Orion's setStatus shows it
    (Orion 3+ has no `failed` status: `failsCounter` tells failures)."""
    if sub.expires is not None and sub.expires <= now:
        return "expired"
    return sub.status


def render_subscription(sub: Subscription, *, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sub.id}
    if sub.description:  # Orion omits an empty description
        out["description"] = sub.description
    out["subject"] = {"entities": [_entity(p) for p in sub.entities], "condition": _condition(sub)}
    out["notification"] = _notification(sub)
    if sub.expires is not None:
        out["expires"] = format_iso8601(sub.expires)
    out["status"] = shown_status(sub, now)
    if sub.throttling:
        out["throttling"] = sub.throttling
    return out
