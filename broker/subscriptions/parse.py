"""Subscription payloads -> `Subscription`, with Orion's validation; and PATCH merging.

Pure: no I/O; the caller gives the clock and the new id.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import NgsiError, bad_request, parse_error
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.validation import check_identifier, check_pattern, has_forbidden_chars
from broker.subscriptions.model import (
    ALTERATION_TYPES,
    ATTRS_FORMATS,
    Condition,
    EntityPattern,
    HttpTarget,
    MqttTarget,
    Notification,
    Subscription,
)

TOP_KEYS = ("description", "subject", "notification", "expires", "status", "throttling")
STATUSES = ("active", "inactive", "oneshot")
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT")
MAX_DESCRIPTION = 1024


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} is not an object")
    return value


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise bad_request(f"{what} is not an array")
    for item in value:
        if not isinstance(item, str):
            raise bad_request(f"{what} item is not a string")
    return tuple(value)


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{what} is not a bool")
    return value


def _entities(raw: Any) -> tuple[EntityPattern, ...]:
    if not isinstance(raw, list):
        raise bad_request("subject entities is not an array")
    if not raw:
        raise bad_request("Invalid subject: entities array is empty")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("entity is not a JSON object")
        for key in item:
            if key not in ("id", "idPattern", "type", "typePattern"):
                raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
        if "id" in item and "idPattern" in item:
            raise bad_request("both /id/ and /idPattern/ present")
        if "type" in item and "typePattern" in item:
            raise bad_request("both /type/ and /typePattern/ present")
        if "id" not in item and "idPattern" not in item:
            raise bad_request("nor /id/ nor /idPattern/ present")
        out.append(
            EntityPattern(
                id=check_identifier(item["id"], "entity id") if "id" in item else None,
                id_pattern=check_pattern(item["idPattern"], "idPattern") if "idPattern" in item else None,
                type=check_identifier(item["type"], "entity type") if "type" in item else None,
                type_pattern=check_pattern(item["typePattern"], "typePattern") if "typePattern" in item else None,
            )
        )
    return tuple(out)


def _condition(raw: Any) -> Condition:
    raw = _object(raw, "condition")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "attrs":
            kwargs["attrs"] = _strings(value, "condition attrs")
        elif key == "expression":
            expr = _object(value, "expression")
            for ekey, evalue in expr.items():
                if ekey not in ("q", "mq", "georel", "geometry", "coords"):
                    raise bad_request(f"Unrecognized field in JSON payload: /{ekey}/")
                if not isinstance(evalue, str):
                    raise bad_request(f"{ekey} is not a string")
                if evalue == "":
                    raise bad_request(f"{ekey} is empty")
            if "q" in expr:
                kwargs["q"], kwargs["q_ast"] = expr["q"], parse_q(expr["q"])
            if "mq" in expr:
                kwargs["mq"], kwargs["mq_ast"] = expr["mq"], parse_mq(expr["mq"])
            geo = parse_geo_query(
                expr.get("georel"), expr.get("geometry"), expr.get("coords"),
                require_georel=True, error_prefix="error parsing geo-query fields: ",
            )
            if geo is not None:
                kwargs.update(georel=expr["georel"], geometry=expr["geometry"], coords=expr["coords"], geo=geo)
        elif key == "alterationTypes":
            types = _strings(value, "alterationTypes")
            for t in types:
                if t not in ALTERATION_TYPES:
                    raise bad_request(f"Invalid alterationType: {t}" if not has_forbidden_chars(t) else "Invalid alterationType")
            kwargs["alteration_types"] = types
        elif key == "notifyOnMetadataChange":
            kwargs["notify_on_metadata_change"] = _bool(value, "notifyOnMetadataChange")
        else:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    return Condition(**kwargs)


def _subject(raw: Any) -> tuple[tuple[EntityPattern, ...], Condition]:
    raw = _object(raw, "subject")
    if "entities" not in raw:
        raise bad_request("no subject entities specified")
    for key in raw:
        if key not in ("entities", "condition"):
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    return _entities(raw["entities"]), _condition(raw["condition"]) if "condition" in raw else Condition()


def _url(value: Any, schemes: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{what} url is not a string")
    if value == "":
        raise bad_request(f"{what} url is empty")
    if "${" in value:
        return value  # custom notifications may template the URL
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise bad_request("Invalid URL")
    try:
        parts.port
    except ValueError:
        raise bad_request("Invalid URL") from None
    return value


def _string_map(value: Any, what: str) -> dict[str, str]:
    value = _object(value, what)
    for k, v in value.items():
        if not isinstance(v, str):
            raise bad_request(f"{what} value is not a string")
    return dict(value)


def _custom_payload(raw: dict[str, Any], fields: dict[str, Any]) -> None:
    given = [k for k in ("payload", "json", "ngsi") if k in raw]
    if len(given) > 1:
        raise bad_request("only one of payload, json or ngsi fields accepted at the same time in httpCustom or mqttCustom")
    if "payload" in raw:
        payload = raw["payload"]
        if payload is not None and not isinstance(payload, str):
            raise bad_request("payload is not a string")
        fields["payload"], fields["payload_set"] = payload, True
    if "json" in raw:
        if not isinstance(raw["json"], (dict, list)):
            raise bad_request("json is not an object or array")
        fields["json"] = raw["json"]
    if "ngsi" in raw:
        fields["ngsi"] = _object(raw["ngsi"], "ngsi")


def _http(raw: Any, custom: bool) -> HttpTarget:
    what = "httpCustom" if custom else "http"
    raw = _object(raw, what)
    if "url" not in raw:
        raise bad_request(f"{what} notification has no url")
    allowed = {"url", "timeout"} | ({"headers", "qs", "method", "payload", "json", "ngsi"} if custom else set())
    for key in raw:
        if key not in allowed:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    fields: dict[str, Any] = {"url": _url(raw["url"], ("http", "https"), what), "custom": custom}
    if "timeout" in raw:
        t = raw["timeout"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            raise bad_request("timeout is not a positive integer")
        fields["timeout"] = t
    if custom:
        if "headers" in raw:
            fields["headers"] = _string_map(raw["headers"], "headers")
        if "qs" in raw:
            fields["qs"] = _string_map(raw["qs"], "qs")
        if "method" in raw:
            if raw["method"] not in HTTP_METHODS:
                raise bad_request("Invalid HTTP method")
            fields["method"] = raw["method"]
        _custom_payload(raw, fields)
    return HttpTarget(**fields)


def _mqtt(raw: Any, custom: bool) -> MqttTarget:
    what = "mqttCustom" if custom else "mqtt"
    raw = _object(raw, what)
    if "url" not in raw:
        raise bad_request(f"{what} notification has no url")
    if "topic" not in raw:
        raise bad_request(f"{what} notification has no topic")
    allowed = {"url", "topic", "qos", "retain", "user", "passwd"} | ({"payload", "json", "ngsi"} if custom else set())
    for key in raw:
        if key not in allowed:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    if not isinstance(raw["topic"], str) or raw["topic"] == "":
        raise bad_request("mqtt topic is empty" if raw["topic"] == "" else "mqtt topic is not a string")
    fields: dict[str, Any] = {"url": _url(raw["url"], ("mqtt", "mqtts"), what), "topic": raw["topic"], "custom": custom}
    if "qos" in raw:
        if raw["qos"] not in (0, 1, 2) or isinstance(raw["qos"], bool):
            raise bad_request("mqtt qos field must be an integer in the 0 to 2 range")
        fields["qos"] = raw["qos"]
    if "retain" in raw:
        fields["retain"] = _bool(raw["retain"], "mqtt retain")
    if ("user" in raw) != ("passwd" in raw):
        raise bad_request("you must use user and passwd fields simultaneously")
    for key in ("user", "passwd"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise bad_request(f"mqtt {key} is not a string")
            fields[key] = raw[key]
    if custom:
        _custom_payload(raw, fields)
    return MqttTarget(**fields)


def _notification(raw: Any) -> Notification:
    raw = _object(raw, "notification")
    targets = [k for k in ("http", "httpCustom", "mqtt", "mqttCustom") if k in raw]
    if not targets:
        raise bad_request("http, httpCustom, mqtt or mqttCustom is missing")
    if len(targets) > 1:
        raise bad_request("only one of http, httpCustom, mqtt or mqttCustom fields accepted at the same time")
    kind = targets[0]
    target: HttpTarget | MqttTarget
    if kind.startswith("http"):
        target = _http(raw[kind], kind == "httpCustom")
    else:
        target = _mqtt(raw[kind], kind == "mqttCustom")
    fields: dict[str, Any] = {"target": target}
    if "attrs" in raw and "exceptAttrs" in raw:
        raise bad_request("http notification has attrs and exceptAttrs")
    for key, value in raw.items():
        if key in targets:
            continue
        if key == "attrs":
            fields["attrs"] = _strings(value, "notification attrs")
        elif key == "exceptAttrs":
            fields["except_attrs"] = _strings(value, "exceptAttrs")
            if not fields["except_attrs"]:
                raise bad_request("exceptAttrs is empty")
        elif key == "attrsFormat":
            if value not in ATTRS_FORMATS:
                raise bad_request("invalid attrsFormat, accepted values: legacy, normalized, simplifiedNormalized, keyValues, simplifiedKeyValues, values")
            fields["attrs_format"] = value
        elif key == "metadata":
            fields["metadata"] = _strings(value, "metadata")
        elif key == "onlyChangedAttrs":
            fields["only_changed_attrs"] = _bool(value, "onlyChangedAttrs")
        elif key == "covered":
            fields["covered"] = _bool(value, "covered")
        elif key == "maxFailsLimit":
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad_request("maxFailsLimit must be greater than zero")
            fields["max_fails_limit"] = value
        elif key in ("timesSent", "lastNotification", "lastSuccess", "lastSuccessCode", "lastFailure",
                     "lastFailureReason", "failsCounter", "status"):
            continue  # read-only fields a client may echo back
        else:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    if fields.get("covered") and not fields.get("attrs"):
        raise bad_request("covered true cannot be used if notification attributes list is empty")
    return Notification(**fields)


def _expires(value: Any) -> float | None:
    if not isinstance(value, str):
        raise bad_request("expires is not a string")
    if value == "":
        return None  # Orion: an empty expires makes the subscription permanent
    epoch = parse_iso8601(value)
    if epoch is None:
        raise bad_request("expires has an invalid format")
    return epoch


def _throttling(value: Any) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise bad_request("throttling is not a number")
    if value < 0:
        raise bad_request("Negative Number not allowed in throttling")
    return int(value)


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise bad_request("status is not valid: it has to be either active, inactive or oneshot")
    return value


def _description(value: Any) -> str:
    if not isinstance(value, str):
        raise bad_request("description is not a string")
    if len(value) > MAX_DESCRIPTION:
        raise bad_request(f"max description length exceeded ({MAX_DESCRIPTION})")
    if has_forbidden_chars(value):
        raise bad_request("forbidden characters in description")
    return value


def _top(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise parse_error()
    if not body:
        raise bad_request("empty payload")
    for key in body:
        if key not in TOP_KEYS and key not in ("id",):
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    return body


def parse_subscription(body: Any, *, tenant: str, service_path: str, now: float, new_id: str) -> Subscription:
    body = _top(body)
    if "subject" not in body:
        raise bad_request("no subject for subscription specified")
    if "notification" not in body:
        raise bad_request("no notification for subscription specified")
    entities, condition = _subject(body["subject"])
    return Subscription(
        id=new_id,
        tenant=tenant,
        service_path=service_path,
        entities=entities,
        condition=condition,
        notification=_notification(body["notification"]),
        description=_description(body["description"]) if "description" in body else None,
        status=_status(body["status"]) if "status" in body else "active",
        expires=_expires(body["expires"]) if "expires" in body else None,
        throttling=_throttling(body["throttling"]) if "throttling" in body else None,
        created_at=now,
    )


def apply_patch(sub: Subscription, body: Any, *, now: float) -> Subscription:
    """PATCH: each top-level field given replaces the stored one (Orion's semantics)."""
    body = _top(body)
    changes: dict[str, Any] = {}
    if "subject" in body:
        changes["entities"], changes["condition"] = _subject(body["subject"])
    if "notification" in body:
        notification = _notification(body["notification"])
        changes["notification"] = notification
    if "description" in body:
        changes["description"] = _description(body["description"])
    if "status" in body:
        changes["status"] = _status(body["status"])
    if "expires" in body:
        changes["expires"] = _expires(body["expires"]) if body["expires"] is not None else None
    if "throttling" in body:
        changes["throttling"] = _throttling(body["throttling"])
    updated = dataclasses.replace(sub, **changes)
    if "notification" in body:
        updated.delivery.fails_counter = 0
    return updated


__all__ = ["parse_subscription", "apply_patch", "NgsiError"]
