"""The notification a subscription owes for a change: body and headers, as Orion sends them.

Pure: it takes the subscription and the stored snapshot of the change, and returns what to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from broker.ngsi.model import Attribute, Entity, Metadata
from broker.ngsi.render import Projection, attribute_value, render_entity
from broker.storage.codec import attrs_from_doc, attrs_to_doc
from broker.ngsi.changes import ChangeEvent
from broker.subscriptions.model import HttpTarget, MqttTarget, Subscription
from broker.version import ORION_API_VERSION

_MACRO = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Outgoing:
    """One notification ready to send."""

    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    topic: str | None = None  # MQTT only
    qos: int = 0
    retain: bool = False


def snapshot(event: ChangeEvent) -> dict[str, Any]:
    """What the outbox keeps of a change to render the notification later."""
    entity = event.entity
    previous = {}
    if event.before is not None:
        previous = {n: {"type": a.type, "value": a.value} for n, a in event.before.attrs.items()}
    return {
        "id": entity.id,
        "type": entity.type,
        "servicePath": entity.service_path,
        "attrs": attrs_to_doc(entity),
        "creDate": entity.cre_date,
        "modDate": entity.mod_date,
        "alteration": event.alteration,
        "requestAttrs": list(event.request_attrs),
        "changed": list(event.changed_attrs(True)),
        "previous": previous,
        "correlator": event.correlator,
    }


def entity_of(snap: dict[str, Any]) -> Entity:
    return Entity(
        id=snap["id"],
        type=snap["type"],
        service_path=snap["servicePath"],
        attrs=attrs_from_doc(snap["attrs"]),
        cre_date=snap["creDate"],
        mod_date=snap["modDate"],
    )


def narrowed(snap: dict[str, Any], shows: Callable[[str], bool]) -> dict[str, Any]:
    """The snapshot without the attributes `shows` rejects (a consent that covers fewer now)."""
    out = dict(snap)
    out["attrs"] = {n: a for n, a in snap["attrs"].items() if shows(n)}
    out["previous"] = {n: a for n, a in snap["previous"].items() if shows(n)}
    out["requestAttrs"] = [n for n in snap["requestAttrs"] if shows(n)]
    out["changed"] = [n for n in snap["changed"] if shows(n)]
    return out


def _action_type(snap: dict[str, Any], name: str) -> str:
    if snap["alteration"] == "entityDelete":
        return "delete"
    return "update" if name in snap["previous"] else "append"


def notified_entity(sub: Subscription, snap: dict[str, Any]) -> tuple[Entity, Projection, Projection]:
    """The entity as the subscription sees it: selected attributes, covered ones, built-ins."""
    n = sub.notification
    entity = entity_of(snap)
    names = list(entity.attrs)
    if n.attrs:
        names = [a for a in n.attrs if a in entity.attrs or n.covered]
    elif n.except_attrs:
        names = [a for a in names if a not in n.except_attrs]
    if n.only_changed_attrs:
        touched = set(snap["requestAttrs"]) | set(snap["changed"])
        names = [a for a in names if a in touched]
    attrs: dict[str, Attribute] = {}
    for name in names:
        attr = entity.attrs.get(name)
        if attr is None:
            attr = Attribute("None", None)
        else:
            attr = Attribute(attr.type, attr.value, dict(attr.metadata), attr.cre_date, attr.mod_date)
            if "previousValue" in n.metadata and name in snap["previous"]:
                prev = snap["previous"][name]
                attr.metadata["previousValue"] = Metadata(prev["type"], prev["value"])
            if "actionType" in n.metadata:
                attr.metadata["actionType"] = Metadata("Text", _action_type(snap, name))
        attrs[name] = attr
    builtins = [b for b in ("dateCreated", "dateModified", "servicePath") if b in n.attrs]
    if "alterationType" in n.attrs:
        attrs["alterationType"] = Attribute("Text", snap["alteration"])
    shown = Entity(entity.id, entity.type, entity.service_path, attrs, entity.cre_date, entity.mod_date)
    attr_projection = Projection(tuple(["*"] + builtins)) if builtins else Projection(None)
    md_names = [m for m in n.metadata if m not in ("previousValue", "actionType")]
    if any(m in n.metadata for m in ("previousValue", "actionType")):
        md_names += ["previousValue", "actionType"]
    md_projection = Projection(tuple(md_names)) if n.metadata else Projection(None)
    return shown, attr_projection, md_projection


def render_body(sub: Subscription, snap: dict[str, Any]) -> Any:
    entity, attrs, md = notified_entity(sub, snap)
    fmt = sub.notification.attrs_format
    if fmt == "simplifiedNormalized":
        return render_entity(entity, "normalized", attrs, md)
    if fmt == "simplifiedKeyValues":
        return render_entity(entity, "keyValues", attrs, md)
    return {"subscriptionId": sub.id, "data": [render_entity(entity, fmt, attrs, md)]}


def _macro_value(entity: Entity, snap: dict[str, Any], tenant: str, name: str) -> str | None:
    if name == "id":
        return entity.id
    if name == "type":
        return entity.type
    if name == "service":
        return tenant
    if name == "servicePath":
        return entity.service_path
    if name == "authToken":
        return snap.get("authToken", "")
    if name.startswith("metadata."):
        _, attr, md = (name.split(".", 2) + ["", ""])[:3]
        a = entity.attrs.get(attr)
        if a is None or md not in a.metadata:
            return None
        value = a.metadata[md].value
    else:
        a = entity.attrs.get(name)
        if a is None:
            return None
        value = attribute_value(a)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def substitute(text: str, entity: Entity, snap: dict[str, Any], tenant: str) -> str:
    """`${...}` macros; an unknown attribute becomes the empty string, as in Orion."""
    return _MACRO.sub(lambda m: _macro_value(entity, snap, tenant, m.group(1)) or "", text)


def _substitute_json(value: Any, entity: Entity, snap: dict[str, Any], tenant: str) -> Any:
    if isinstance(value, str):
        whole = _MACRO.fullmatch(value)
        if whole:  # a whole-string macro keeps the attribute's JSON type
            name = whole.group(1)
            attr = entity.attrs.get(name)
            if attr is not None and name not in ("id", "type", "service", "servicePath", "authToken"):
                return attribute_value(attr)
        return substitute(value, entity, snap, tenant)
    if isinstance(value, dict):
        return {k: _substitute_json(v, entity, snap, tenant) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_json(v, entity, snap, tenant) for v in value]
    return value


def build(sub: Subscription, snap: dict[str, Any], cbnotif: int = 1) -> Outgoing:
    """The request (or MQTT message) for one outbox record."""
    target = sub.notification.target
    tenant = sub.tenant
    fmt = sub.notification.attrs_format
    headers: dict[str, str] = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "User-Agent": f"orion/{ORION_API_VERSION}",
        "Ngsiv2-AttrsFormat": fmt,
    }
    if tenant:
        headers["Fiware-Service"] = tenant
    headers["Fiware-ServicePath"] = snap["servicePath"]
    root = snap.get("correlator") or ""
    headers["Fiware-Correlator"] = f"{root}; cbnotif={cbnotif}"
    entity = entity_of(snap)
    body: bytes
    if target.custom:
        if target.payload_set:
            body = substitute(target.payload, entity, snap, tenant).encode() if target.payload is not None else b""
            if target.payload is not None:
                headers["Content-Type"] = "text/plain; charset=utf-8"
            else:
                headers.pop("Content-Type")
        elif target.json is not None:
            body = orjson.dumps(_substitute_json(target.json, entity, snap, tenant))
        elif target.ngsi is not None:
            patched = render_body(sub, snap)
            patch = _substitute_json(target.ngsi, entity, snap, tenant)
            data = patched["data"][0] if isinstance(patched, dict) and "data" in patched else patched
            if isinstance(data, dict) and isinstance(patch, dict):
                data.update(patch)
            body = orjson.dumps(patched)
        else:
            body = orjson.dumps(render_body(sub, snap))
        if isinstance(target, HttpTarget):
            for k, v in target.headers.items():
                value = substitute(v, entity, snap, tenant)
                if value == "":
                    headers = {h: x for h, x in headers.items() if h.lower() != k.lower()}
                else:
                    headers = {h: x for h, x in headers.items() if h.lower() != k.lower()}
                    headers[k] = value
    else:
        body = orjson.dumps(render_body(sub, snap))
    if isinstance(target, MqttTarget):
        topic = substitute(target.topic, entity, snap, tenant) if target.custom else target.topic
        return Outgoing(url=target.url, headers=headers, body=body, topic=topic, qos=target.qos, retain=target.retain)
    url = substitute(target.url, entity, snap, tenant) if target.custom else target.url
    if target.custom and target.qs:
        parts = urlsplit(url)
        extra = urlencode({k: substitute(v, entity, snap, tenant) for k, v in target.qs.items()})
        url = urlunsplit(parts._replace(query="&".join(p for p in (parts.query, extra) if p)))
    method = (target.method or "POST") if target.custom else "POST"
    return Outgoing(url=url, method=method, headers=headers, body=body)
