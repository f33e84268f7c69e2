"""Subscription payloads -> `Subscription`, with Orion's validation; and PATCH merging.

Pure: no I/O; the caller gives the clock and the new id.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any
from urllib.parse import urlsplit

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import bad_request, parse_error
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.subscription import (
    ALTERATION_TYPES,
    ATTRS_FORMATS,
    Condition,
    EntityPattern,
    HttpTarget,
    MqttTarget,
    Notification,
    Subscription,
)
from broker.ngsi.validation import has_forbidden_chars, parse_entity_items

STATUSES = ("active", "inactive", "oneshot")
EXPRESSION_KEYS = ("q", "mq", "georel", "geometry", "coords", "jexlExpression")
MIN_EVAL_PRIORITY = 1  # the range of `evalPriority` in an httpCustom/mqttCustom `ngsi` attribute
MAX_EVAL_PRIORITY = 100000
# a host as RFC 3986 allows it (registered name or IPv4), or a bracketed IPv6 literal
_HOST = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\]")
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT")
MAX_DESCRIPTION = 1024
MAX_HTTP_TIMEOUT = 1800000
# The texts below are Orion's (src/lib/jsonParseV2/parseSubscription.cpp, parseEntitiesVector.cpp,
# parseStringVector.cpp, utilsParse.cpp). Orion ignores fields it does not know, and so do we.


def _opt(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str | None = None) -> Any:
    """Orion's getXxxOpt: the value, or None when absent; "<what> is not a <kind>" when mistyped."""
    if key not in obj:
        return None
    value = obj[key]
    name = what or key
    if kind is bool:
        if not isinstance(value, bool):
            raise bad_request(f"{name} is not a bool")
    elif kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_request(f"{name} is not an int")
    elif not isinstance(value, kind):
        raise bad_request(f"{name} is not a string")
    return value


def _must(obj: dict[str, Any], key: str, what: str) -> str:
    if key not in obj:
        raise bad_request(f"{what} is missing")
    return _opt(obj, key, str, what)


def _string_vector(value: Any, field: str) -> tuple[str, ...]:
    """Orion's parseStringVector: an array of non-empty strings, repeats dropped."""
    if not isinstance(value, list):
        raise bad_request(f"the field /{field}/ must be a JSON array")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise bad_request(f"only JSON Strings allowed in string vector /{field}/")
        if item == "":
            raise bad_request(f"empty string found in string vector /{field}/")
        if item not in out:
            out.append(item)
    return tuple(out)


def _entities(raw: Any) -> tuple[EntityPattern, ...]:
    return tuple(EntityPattern(*item) for item in parse_entity_items(raw))


def _expression(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("expression is not an object")
    if not raw:
        raise bad_request("expression is empty")
    out: dict[str, Any] = {}
    for key in EXPRESSION_KEYS:
        value = _opt(raw, key, str)
        if value is not None:
            if value == "":
                raise bad_request(f"{key} is empty")
            out["jexl" if key == "jexlExpression" else key] = value
    if "q" in out:
        out["q_ast"] = parse_q(out["q"])
    if "mq" in out:
        out["mq_ast"] = parse_mq(out["mq"])
    geo = parse_geo_query(
        out.get("georel"),
        out.get("geometry"),
        out.get("coords"),
        require_georel=True,
        error_prefix="error parsing geo-query fields: ",
    )
    if geo is not None:
        out["geo"] = geo
    return out


def _condition(raw: Any) -> Condition:
    if not isinstance(raw, dict):
        raise bad_request("condition is not an object")
    if not raw:
        raise bad_request("condition is empty")
    kwargs: dict[str, Any] = {}
    if "attrs" in raw:
        kwargs["attrs"] = _string_vector(raw["attrs"], "attrs")
    if "expression" in raw:
        kwargs.update(_expression(raw["expression"]))
    if "alterationTypes" in raw:
        types = _string_vector(raw["alterationTypes"], "alterationTypes")
        for t in types:
            if t not in ALTERATION_TYPES:
                raise bad_request(f"unknown subscription alterationType: {t}")
        kwargs["alteration_types"] = types
    notify_md = _opt(raw, "notifyOnMetadataChange", bool)
    if notify_md is not None:
        kwargs["notify_on_metadata_change"] = notify_md
    return Condition(**kwargs)


def _subject(raw: Any) -> tuple[tuple[EntityPattern, ...], Condition]:
    if not isinstance(raw, dict):
        raise bad_request("subject is not an object")
    if "entities" not in raw:
        raise bad_request("no subject entities specified")
    entities = _entities(raw["entities"])
    if not entities:
        raise bad_request("subject entities is empty")
    return entities, _condition(raw["condition"]) if "condition" in raw else Condition()


def _url_parts(url: str) -> tuple[str, str] | None:
    """(scheme, path) of a URL Orion's parseUrl accepts, or None: a scheme Orion sends to, a host
    (a name without spaces or other characters no host has, or a bracketed IPv6) and a port in
    1-65535 when one is given."""
    if any(c <= " " or c == "\x7f" for c in url):  # urlsplit would silently drop tabs and newlines
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. "http://[::1/" or a port that is not a number
        return None
    if parts.scheme not in ("http", "https", "mqtt") or not parts.hostname:
        return None
    host = parts.netloc.rpartition("@")[2]
    if port is not None or host.endswith(":"):
        host = host[: host.rfind(":")]
    if not _HOST.fullmatch(host) or port == 0:
        return None
    return parts.scheme, parts.path or "/"


def sendable_http_url(url: str) -> bool:
    """A custom notification's URL once its macros are replaced: Orion builds no request when its
    parseUrl rejects the scheme, host or port (the path is left to libcurl)."""
    scheme, sep, rest = url.partition("://")
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return bool(sep) and scheme in ("http", "https") and _url_parts(f"{scheme}://{netloc}") is not None


def _timeout(raw: dict[str, Any]) -> int | None:
    timeout = _opt(raw, "timeout", int)
    if timeout is not None and not 0 <= timeout <= MAX_HTTP_TIMEOUT:
        raise bad_request(f"timeout field must be an integer between 0 and {MAX_HTTP_TIMEOUT}")
    return timeout or None


def _dictionary(raw: dict[str, Any], key: str) -> dict[str, str]:
    name = f"notification httpCustom {key}"
    value = raw[key]
    if not isinstance(value, dict):
        raise bad_request(f"{name} is not an object")
    if not value:
        raise bad_request(f"{name} is empty")
    for k, v in value.items():
        if not isinstance(v, str):
            raise bad_request(f"{name} element is not a string")
        if has_forbidden_chars(v) or has_forbidden_chars(k):
            raise bad_request(f"forbidden characters in custom {name}")
    return dict(value)


def _custom_payload(raw: dict[str, Any], fields: dict[str, Any]) -> None:
    if sum(k in raw for k in ("payload", "json", "ngsi")) > 1:
        raise bad_request(
            "only one of payload, json or ngsi fields accepted at the same time in httpCustom or mqttCustom"
        )
    if "payload" in raw:
        payload = raw["payload"]
        if payload is not None:
            payload = _opt(raw, "payload", str, "payload custom notification")
            if has_forbidden_chars(payload):
                raise bad_request("forbidden characters in custom /payload/")
        fields["payload"], fields["payload_set"] = payload, True
    elif "json" in raw:
        if not isinstance(raw["json"], (dict, list)):
            raise bad_request("json fields in httpCustom or mqttCustom must be object or array")
        fields["json"] = raw["json"]
    elif "ngsi" in raw:
        ngsi = raw["ngsi"]
        if not isinstance(ngsi, dict):
            raise bad_request("ngsi field in httpCustom or mqttCustom must be an object")
        if "id" in ngsi and not isinstance(ngsi["id"], str):
            raise bad_request("Invalid JSON type for entity id")
        if "type" in ngsi and not isinstance(ngsi["type"], str):
            raise bad_request("Invalid JSON type for entity type")
        for name, attr in ngsi.items():
            if name not in ("id", "type"):
                _check_eval_priority(attr)
        fields["ngsi"] = ngsi


def _check_eval_priority(attr: Any) -> None:
    """An `ngsi` attribute may carry only the `evalPriority` metadata, a number in 1-100000."""
    metadata = attr.get("metadata") if isinstance(attr, dict) else None
    if not isinstance(metadata, dict):
        return
    for name, md in metadata.items():
        if name != "evalPriority":
            raise bad_request("only evalPriority metadata is allowed in ngsi payload in custom notifications")
        value = md.get("value") if isinstance(md, dict) else md
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise bad_request("evalPriority metadata must be a number")
        if value < MIN_EVAL_PRIORITY:
            raise bad_request(f"evalPriority metadata minimum priority is {MIN_EVAL_PRIORITY}")
        if value > MAX_EVAL_PRIORITY:
            raise bad_request(f"evalPriority metadata maximum priority is {MAX_EVAL_PRIORITY}")


def _http(raw: Any, custom: bool) -> HttpTarget:
    kind = "httpCustom" if custom else "http"
    if not isinstance(raw, dict):
        raise bad_request(f"{kind} notification is not an object")
    url = _must(raw, "url", f"url {kind} notification")
    fields: dict[str, Any] = {"custom": custom}
    if not custom:
        if has_forbidden_chars(url):
            raise bad_request("forbidden characters in http field /url/")
        fields["timeout"] = _timeout(raw)
        parts = _url_parts(url)
        if parts is None:
            raise bad_request("Invalid URL parsing notification url")
        if parts[0] == "mqtt":
            raise bad_request("mqtt URL cannot be used in http notifications")
    else:
        if has_forbidden_chars(url):
            raise bad_request("forbidden characters in custom /url/")
        if "${" not in url:
            parts = _url_parts(url)
            if parts is None:
                raise bad_request("invalid custom /url/")
            if parts[0] == "mqtt":
                raise bad_request("mqtt URL cannot be used in http notifications")
        method = _opt(raw, "method", str, "method httpCustom notification")
        if method is not None:
            if method.upper() not in HTTP_METHODS:
                raise bad_request("unknown method httpCustom notification")
            fields["method"] = method.upper()
        _custom_payload(raw, fields)
        if "qs" in raw:
            fields["qs"] = _dictionary(raw, "qs")
        if "headers" in raw:
            fields["headers"] = _dictionary(raw, "headers")
        fields["timeout"] = _timeout(raw)
    fields["url"] = url
    return HttpTarget(**fields)


def _mqtt(raw: Any, custom: bool) -> MqttTarget:
    kind = "mqttCustom" if custom else "mqtt"
    if not isinstance(raw, dict):
        raise bad_request(f"{kind} notification is not an object")
    url = _must(raw, "url", "url mqtt notification")
    if has_forbidden_chars(url):
        raise bad_request("forbidden characters in mqtt field /url/")
    parts = _url_parts(url)
    if parts is None:
        raise bad_request("invalid mqtt /url/")
    if parts[0] != "mqtt":
        raise bad_request("http or https URL cannot be used in mqtt notifications")
    if parts[1] != "/":
        raise bad_request("path cannot be used in mqtt url, use topic instead")
    fields: dict[str, Any] = {"url": url, "custom": custom}
    user = _opt(raw, "user", str, "user mqtt notification")
    if user is not None and has_forbidden_chars(user):
        raise bad_request("forbidden characters in mqtt /user/")
    passwd = _opt(raw, "passwd", str, "passwd mqtt notification")
    if (user is None) != (passwd is None):
        raise bad_request("you must use user and passwd fields simultaneously")
    fields["user"], fields["passwd"] = user, passwd
    qos = _opt(raw, "qos", int)
    if qos is not None and not 0 <= qos <= 2:
        raise bad_request("mqtt qos field must be an integer in the 0 to 2 range")
    fields["qos"] = qos or 0
    fields["retain"] = bool(_opt(raw, "retain", bool))
    topic = _must(raw, "topic", "topic mqtt notification")
    if topic == "":
        raise bad_request("empty mqtt field /topic/")
    if "+" in topic or "#" in topic:
        raise bad_request("+ and # are not allowed in mqtt field /topic/")
    if has_forbidden_chars(topic):
        raise bad_request("forbidden characters in mqtt field /topic/")
    fields["topic"] = topic
    if custom:
        _custom_payload(raw, fields)
    return MqttTarget(**fields)


def _notification(raw: Any) -> Notification:
    if not isinstance(raw, dict):
        raise bad_request("notification is not an object")
    kinds = [k for k in ("http", "httpCustom", "mqtt", "mqttCustom") if k in raw]
    if len(kinds) > 1:
        raise bad_request("only one of http, httpCustom, mqtt or mqttCustom is allowed")
    if not kinds:
        raise bad_request("http, httpCustom, mqtt or mqttCustom is missing")
    kind = kinds[0]
    target: HttpTarget | MqttTarget
    if kind.startswith("http"):
        target = _http(raw[kind], kind == "httpCustom")
    else:
        target = _mqtt(raw[kind], kind == "mqttCustom")
    fields: dict[str, Any] = {"target": target}
    if "attrs" in raw and "exceptAttrs" in raw:
        raise bad_request("http notification has attrs and exceptAttrs")
    if "attrs" in raw:
        fields["attrs"] = _string_vector(raw["attrs"], "attrs")
    elif "exceptAttrs" in raw:
        fields["except_attrs"] = _string_vector(raw["exceptAttrs"], "exceptAttrs")
        if not fields["except_attrs"]:
            raise bad_request("http notification has exceptAttrs is empty")
    only_changed = _opt(raw, "onlyChangedAttrs", bool)
    if only_changed is not None:
        fields["only_changed_attrs"] = only_changed
    covered = _opt(raw, "covered", bool)
    if covered is not None:
        fields["covered"] = covered
        if covered and not fields.get("attrs"):
            raise bad_request("covered true cannot be used if notification attributes list is empty")
    if "metadata" in raw:
        fields["metadata"] = _string_vector(raw["metadata"], "metadata")
    attrs_format = _opt(raw, "attrsFormat", str)
    if attrs_format is not None:
        if attrs_format not in ATTRS_FORMATS:
            raise bad_request("invalid attrsFormat, accepted values: legacy, normalized, keyValues, values")
        fields["attrs_format"] = attrs_format
    max_fails = _opt(raw, "maxFailsLimit", int)
    if max_fails is not None:
        if max_fails <= 0:
            raise bad_request("maxFailsLimit must be greater than zero")
        fields["max_fails_limit"] = max_fails
    return Notification(**fields)


def _top(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise parse_error()
    if not body:
        raise bad_request("empty payload")
    return body


def _description(body: dict[str, Any]) -> str | None:
    description = _opt(body, "description", str)
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise bad_request("max description length exceeded")
        if has_forbidden_chars(description):
            raise bad_request("forbidden characters in description")
    return description


def _expires(body: dict[str, Any]) -> float | None:
    expires = _opt(body, "expires", str)
    if not expires:
        return None  # absent or "": permanent
    epoch = parse_iso8601(expires)
    if epoch is None:
        raise bad_request("expires has an invalid format")
    return float(math.floor(epoch))  # Orion keeps whole seconds


def _status(body: dict[str, Any]) -> str | None:
    status = _opt(body, "status", str)
    if status is not None and status not in STATUSES:
        # Orion's text (errorMessages.h) names two of the three statuses it accepts
        raise bad_request("status is not valid: it has to be either active or inactive")
    return status


def _throttling(body: dict[str, Any]) -> int | None:
    throttling = _opt(body, "throttling", int)
    if throttling is not None and throttling < 0:
        raise bad_request("throttling must be a non-negative integer")
    return throttling


def _fields(body: dict[str, Any], update: bool) -> dict[str, Any]:
    """Orion's order of checks: description, subject, notification, expires, status, throttling."""
    changes: dict[str, Any] = {}
    description = _description(body)
    if description is not None:
        changes["description"] = description
    if "subject" in body:
        changes["entities"], changes["condition"] = _subject(body["subject"])
    elif not update:
        raise bad_request("no subject for subscription specified")
    if "notification" in body:
        changes["notification"] = _notification(body["notification"])
    elif not update:
        raise bad_request("no notification for subscription specified")
    if "expires" in body:
        changes["expires"] = _expires(body)
    status = _status(body)
    if status is not None:
        changes["status"] = status
    throttling = _throttling(body)
    if throttling is not None:
        changes["throttling"] = throttling
    return changes


def parse_subscription(body: Any, *, tenant: str, service_path: str, now: float, new_id: str) -> Subscription:
    """`POST /v2/subscriptions`: a new subscription (`NgsiError` 400 with Orion's text otherwise)."""
    changes = _fields(_top(body), update=False)
    return Subscription(
        id=new_id,
        tenant=tenant,
        service_path=service_path,
        entities=changes.pop("entities"),
        condition=changes.pop("condition"),
        notification=changes.pop("notification"),
        created_at=now,
        **changes,
    )


def apply_patch(sub: Subscription, body: Any, *, now: float) -> Subscription:
    """`PATCH /v2/subscriptions/{id}`: each top-level field given replaces the stored one; the
    delivery counters stay (Orion keeps `failsCounter` across a PATCH of the notification).

    Orion's exceptions, which it stores as flags of their own: a new `notification` keeps
    `onlyChangedAttrs` and `covered` unless it names them, and a new `subject` keeps
    `condition.notifyOnMetadataChange` unless it names it (the rest of the object is replaced:
    `attrs`, `metadata`, `attrsFormat`, `maxFailsLimit`, the condition's attrs and expression)."""
    changes = _fields(_top(body), update=True)
    if "notification" in changes:
        given = body["notification"]
        kept = {
            field: getattr(sub.notification, field)
            for key, field in (("onlyChangedAttrs", "only_changed_attrs"), ("covered", "covered"))
            if key not in given
        }
        changes["notification"] = dataclasses.replace(changes["notification"], **kept)
    if "condition" in changes and "notifyOnMetadataChange" not in (body["subject"].get("condition") or {}):
        changes["condition"] = dataclasses.replace(
            changes["condition"], notify_on_metadata_change=sub.condition.notify_on_metadata_change
        )
    return dataclasses.replace(sub, **changes)
