"""The notification a subscription owes for a change: URL, headers and body, as Orion sends them.

Pure: it takes the subscription and the stored snapshot of the change, and returns what to send.
Custom notifications (`httpCustom`, `mqttCustom`) evaluate every `${...}` as a JEXL expression
(broker/subscriptions/jexl.py) over the entity: its attributes by name, `id`, `type`, `service`,
`servicePath`, `authToken` and `metadata.<attr>.<md>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson

from broker.ngsi.changes import ChangeEvent
from broker.ngsi.model import Attribute, Entity, Metadata, default_type
from broker.ngsi.render import Projection, attribute_value, render_entity, render_json
from broker.ngsi.subscription import HttpTarget, MqttTarget, Subscription
from broker.storage.codec import attrs_from_doc, attrs_to_doc
from broker.subscriptions.jexl import evaluate, to_text
from broker.subscriptions.parse import sendable_http_url
from broker.version import ORION_API_VERSION

# headers a subscription's `headers` cannot replace: Orion protects the first two; the length is
# the body's, whatever a template says
_PROTECTED = frozenset(("fiware-correlator", "ngsiv2-attrsformat", "content-length"))


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
    # why this request is not to be sent at all (Orion's libcurl layer refuses a text/plain
    # request without content and records it as a failure with this reason); None to send it
    refusal: str | None = None
    # why Orion builds no request at all (a custom URL that is no URL once its macros are
    # replaced, a template macro never closed): nothing is sent, nothing but `timesSent` recorded
    dropped: str | None = None


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
        **({"authToken": event.auth_token} if event.auth_token else {}),
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


_BUILTIN_ATTRS = ("dateCreated", "dateModified", "servicePath")
_BUILTINS = frozenset((*_BUILTIN_ATTRS, "alterationType", "dateExpires"))


def notified_entity(
    sub: Subscription, snap: dict[str, Any], patch: NgsiPatch | None = None
) -> tuple[Entity, Projection, Projection]:
    """The entity as the subscription sees it: selected attributes, covered ones, built-ins.

    An `ngsi` patch (custom notifications) is applied first, so that `attrs` selects among the
    patched attributes as Orion does."""
    n = sub.notification
    entity = entity_of(snap)
    if patch is not None:
        entity = patch.apply(entity)
    names = list(entity.attrs)
    if n.attrs and "*" not in n.attrs:  # "*": every attribute, plus the built-ins it names
        names = [a for a in n.attrs if a in entity.attrs or (n.covered and a not in _BUILTINS)]
    elif n.attrs and n.covered:
        names += [a for a in n.attrs if a not in entity.attrs and a != "*" and a not in _BUILTINS]
    elif n.except_attrs:
        names = [a for a in names if a not in n.except_attrs]
    if n.only_changed_attrs:
        touched = set(snap["requestAttrs"]) | set(snap["changed"])
        if patch is not None:
            touched |= set(patch.attrs)
        names = [a for a in names if a in touched]
    attrs: dict[str, Attribute] = {}
    for name in names:
        attr = entity.attrs.get(name)
        if attr is None:
            attr = Attribute("None", None)
        else:
            attr = Attribute(attr.type, attr.value, dict(attr.metadata), attr.cre_date, attr.mod_date)
            requested = name in snap["requestAttrs"]
            if "previousValue" in n.metadata and requested and name in snap["previous"]:
                prev = snap["previous"][name]
                attr.metadata["previousValue"] = Metadata(prev["type"], prev["value"])
            if "actionType" in n.metadata and (requested or snap["alteration"] == "entityDelete"):
                attr.metadata["actionType"] = Metadata("Text", _action_type(snap, name))
        attrs[name] = attr
    builtins = [b for b in _BUILTIN_ATTRS if b in n.attrs]
    if "alterationType" in n.attrs:
        attrs["alterationType"] = Attribute("Text", snap["alteration"])
    shown = Entity(entity.id, entity.type, entity.service_path, attrs, entity.cre_date, entity.mod_date)
    if n.attrs and "*" not in n.attrs:  # in the list's order, as Orion (`values` shows it)
        attr_projection = Projection(tuple(n.attrs))
    else:
        attr_projection = Projection(tuple(["*"] + builtins)) if builtins else Projection(None)
    md_names = [m for m in n.metadata if m not in ("previousValue", "actionType")]
    md_names += [m for m in ("previousValue", "actionType") if m in n.metadata]
    md_projection = Projection(tuple(md_names)) if n.metadata else Projection(None)
    return shown, attr_projection, md_projection


def render_body(sub: Subscription, snap: dict[str, Any], patch: NgsiPatch | None = None) -> Any:
    """The notification's body. An `ngsi` patch is always sent normalized (or in one of the
    simplified forms), whatever `attrsFormat` says: Orion's setNgsiPayload; the
    `Ngsiv2-AttrsFormat` header still names the subscription's format."""
    entity, attrs, md = notified_entity(sub, snap, patch)
    fmt = sub.notification.attrs_format
    if patch is not None and fmt not in ("simplifiedNormalized", "simplifiedKeyValues"):
        fmt = "normalized"
    if fmt == "simplifiedNormalized":
        return render_entity(entity, "normalized", attrs, md)
    if fmt == "simplifiedKeyValues":
        return render_entity(entity, "keyValues", attrs, md)
    return {"subscriptionId": sub.id, "data": [render_entity(entity, fmt, attrs, md)]}


# ------------------------------------------------------------------------- expressions


def expression_context(entity: Entity, tenant: str, auth_token: str = "") -> dict[str, Any]:
    """What `${...}` expressions see: attribute values by name, then Orion's built-in names."""
    ctx: dict[str, Any] = {name: attribute_value(a) for name, a in entity.attrs.items()}
    ctx["metadata"] = {name: {m: md.value for m, md in a.metadata.items()} for name, a in entity.attrs.items()}
    ctx["id"] = entity.id
    ctx["type"] = entity.type
    ctx["service"] = tenant
    ctx["servicePath"] = entity.service_path
    ctx["authToken"] = auth_token
    return ctx


def _macros(text: str) -> list[tuple[int, int, str]]:
    """Every `${...}` in `text` as (start, end, expression); braces and quotes inside balance."""
    out: list[tuple[int, int, str]] = []
    i = text.find("${")
    while i >= 0:
        depth, j, quote_char = 1, i + 2, ""
        while j < len(text) and depth:
            c = text[j]
            if quote_char:
                if c == "\\":
                    j += 1
                elif c == quote_char:
                    quote_char = ""
            elif c in "'\"":
                quote_char = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        if depth:
            break  # unbalanced: the rest is plain text
        out.append((i, j, text[i + 2 : j - 1]))
        i = text.find("${", j)
    return out


def substitute(text: str, ctx: dict[str, Any], null: str = "") -> str:
    """Every macro replaced by its value as text; a null value (missing attribute, failed
    expression) becomes `null` (Orion: "" in text payloads, headers and query strings, `null`
    inside JSON strings)."""
    found = _macros(text)
    if not found:
        return text
    parts: list[str] = []
    last = 0
    for start, end, expr in found:
        parts.append(text[last:start])
        value = evaluate(expr, ctx)
        parts.append(null if value is None else to_text(value))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _substitute_json(value: Any, ctx: dict[str, Any]) -> Any:
    """A JSON template: a string that is one whole macro takes the value with its JSON type
    (null when missing); other strings get their macros as text."""
    if isinstance(value, str):
        found = _macros(value)
        if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(value):
            return evaluate(found[0][2], ctx)
        return substitute(value, ctx, null="null")
    if isinstance(value, dict):
        return {k: _substitute_json(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_json(v, ctx) for v in value]
    return value


@dataclass
class NgsiPatch:
    """An evaluated `ngsi` template: a new id or type and attributes that replace or add."""

    id: str | None
    type: str | None
    attrs: dict[str, Attribute]

    def apply(self, entity: Entity) -> Entity:
        attrs = dict(entity.attrs)
        attrs.update(self.attrs)
        return Entity(
            self.id or entity.id, self.type or entity.type, entity.service_path, attrs, entity.cre_date, entity.mod_date
        )


def _patch_text(value: Any) -> str | None:
    """An id or type from the template: a string (numbers as text); empty or null keeps the entity's."""
    if value is None:
        return None
    text = to_text(value)
    return text or None


def ngsi_patch(template: dict[str, Any], ctx: dict[str, Any]) -> NgsiPatch:
    attrs: dict[str, Attribute] = {}
    for name, spec in template.items():
        if name in ("id", "type") or not isinstance(spec, dict):
            continue
        value = _substitute_json(spec.get("value"), ctx)
        type_ = spec.get("type")
        type_ = to_text(_substitute_json(type_, ctx)) if type_ is not None else default_type(value)
        metadata: dict[str, Metadata] = {}
        for md_name, md in (spec.get("metadata") or {}).items():
            if isinstance(md, dict):
                md_value = _substitute_json(md.get("value"), ctx)
                md_type = md.get("type")
                metadata[md_name] = Metadata(md_type if isinstance(md_type, str) else default_type(md_value), md_value)
        attrs[name] = Attribute(type_ or default_type(value), value, metadata)
    return NgsiPatch(
        _patch_text(_substitute_json(template["id"], ctx)) if "id" in template else None,
        _patch_text(_substitute_json(template["type"], ctx)) if "type" in template else None,
        attrs,
    )


def with_builtin_metadata(ctx: dict[str, Any], entity: Entity, snap: dict[str, Any]) -> dict[str, Any]:
    """Orion adds the built-in metadata to every attribute before it builds a custom
    notification, so `metadata.<attr>` also holds `dateCreated`, `dateModified` and, for the
    attributes the update named, `previousValue` and `actionType` (`${A-metadata.A.previousValue}`,
    as Orion's manual shows). A user's metadata of the same name wins."""
    metadata: dict[str, dict[str, Any]] = ctx["metadata"]
    requested = set(snap["requestAttrs"])
    for name, attr in entity.attrs.items():
        builtins: dict[str, Any] = {}
        if attr.cre_date:
            builtins["dateCreated"] = attribute_value(Attribute("DateTime", attr.cre_date))
        if attr.mod_date:
            builtins["dateModified"] = attribute_value(Attribute("DateTime", attr.mod_date))
        if name in requested or snap["alteration"] == "entityDelete":
            builtins["actionType"] = _action_type(snap, name)
            if name in snap["previous"]:
                prev = snap["previous"][name]
                builtins["previousValue"] = attribute_value(Attribute(prev["type"], prev["value"]))
        metadata[name] = {**builtins, **metadata.get(name, {})}
    return ctx


# ----------------------------------------------------------------------------- request


def _decoded(text: str) -> str:
    """Orion takes templates percent-encoded (its forbidden characters) and sends them decoded."""
    return unquote(text) if "%" in text else text


def host_header(url: str) -> str:
    """The `Host` header Orion (libcurl) sends to `url`: host and port, the default port included."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _with_query(url: str, qs: dict[str, str]) -> str:
    """Query parameters in key order (Orion keeps them in a sorted map), empty keys or values
    left out, each quoted only where a URL cannot carry the character."""
    pairs = [f"{quote(k, safe=_QS_SAFE)}={quote(v, safe=_QS_SAFE)}" for k, v in sorted(qs.items()) if k and v]
    if not pairs:
        return url
    base, _, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    return base + sep + "&".join(pairs) + (("#" + fragment) if fragment else "")


_QS_SAFE = "!$'()*+,;:@/?~"

# Orion's `lastFailureReason` for a text payload that came out empty: its HTTP layer refuses to
# send a text/plain request without content (httpRequestSend) and reports just "error"
EMPTY_TEXT_REFUSAL = "error"


def build(sub: Subscription, snap: dict[str, Any], cbnotif: int = 1, *, custom: bool = True) -> Outgoing:
    """The request (or MQTT message) for one outbox record.

    Headers in the order Orion's requests carry them on the wire: Host, User-Agent, Fiware-Service (non-default
    tenants), Fiware-Servicepath, X-Auth-Token (when the triggering request had one), Accept,
    Content-Length, Content-Type, Fiware-Correlator, Ngsiv2-AttrsFormat, then the subscription's
    own headers. A custom header replaces a standard one of the same name (except the correlator,
    the format and the length) and a header whose value comes out empty is not sent.

    `custom=False` (`-disableCustomNotifications`): a custom target is sent as a plain one, its
    `url` (and `topic`) as written, POST, the standard body; Orion's flag."""
    target = sub.notification.target
    tenant = sub.tenant
    fmt = sub.notification.attrs_format
    auth_token = snap.get("authToken") or ""
    body: bytes
    content_type: str | None = "application/json; charset=utf-8"
    refusal: str | None = None
    extra: dict[str, str] = {}
    url = target.url
    topic = target.topic if isinstance(target, MqttTarget) else None
    if target.custom and custom:
        entity = entity_of(snap)
        ctx = with_builtin_metadata(expression_context(entity, tenant, auth_token), entity, snap)
        if target.payload_set and target.payload is None:  # `payload: null`: no body at all
            fmt = "custom"
            body, content_type = b"", None
        elif target.payload:  # "" is no template: the standard notification, as in Orion
            fmt = "custom"
            body = _decoded(substitute(target.payload, ctx)).encode()
            content_type = "text/plain; charset=utf-8"
            if not body and isinstance(target, HttpTarget):
                refusal = EMPTY_TEXT_REFUSAL
        elif target.json is not None:
            fmt = "custom"
            body = orjson.dumps(render_json(_substitute_json(target.json, ctx)))
        elif target.ngsi is not None:
            body = orjson.dumps(render_body(sub, snap, ngsi_patch(target.ngsi, ctx)))
        else:
            body = orjson.dumps(render_body(sub, snap))
        if isinstance(target, HttpTarget):
            url = substitute(target.url, ctx)
            for key, value in target.headers.items():
                name = substitute(key, ctx)
                if name and name.lower() not in _PROTECTED:
                    extra[name] = _decoded(substitute(value, ctx))
            url = _with_query(
                url, {_decoded(substitute(k, ctx)): _decoded(substitute(v, ctx)) for k, v in target.qs.items()}
            )
        else:
            topic = substitute(target.topic, ctx)
    else:
        body = orjson.dumps(render_body(sub, snap))

    standard: list[tuple[str, str | None]] = [
        ("Host", host_header(url) if isinstance(target, HttpTarget) else None),
        ("User-Agent", f"orion/{ORION_API_VERSION}"),
        ("Fiware-Service", tenant or None),
        ("Fiware-Servicepath", snap["servicePath"] or "/"),
        ("X-Auth-Token", auth_token or None),
        ("Accept", "application/json"),
        ("Content-Length", str(len(body))),
        ("Content-Type", content_type if body else None),
    ]
    overrides = {k.lower(): (k, v) for k, v in extra.items()}
    headers: dict[str, str] = {}
    for name, value in standard:
        if name.lower() in overrides:
            value = overrides.pop(name.lower())[1]
        if value:
            headers[name] = value
    headers["Fiware-Correlator"] = f"{snap.get('correlator') or ''}; cbnotif={cbnotif}"
    headers["Ngsiv2-AttrsFormat"] = fmt
    for _, (name, value) in sorted(overrides.items()):
        if value:
            headers[name] = value
    dropped = "unterminated macro" if target.custom and custom and _unterminated_macro(target) else None
    if isinstance(target, MqttTarget):
        return Outgoing(
            url=target.url,
            headers=headers,
            body=body,
            topic=topic,
            qos=target.qos,
            retain=target.retain,
            dropped=dropped,
        )
    method = (target.method or "POST") if target.custom and custom else "POST"
    if dropped is None and target.custom and custom and not sendable_http_url(url):
        dropped = "malformed URL"
    return Outgoing(url=url, method=method, headers=headers, body=body, refusal=refusal, dropped=dropped)


def _unterminated_macro(target: HttpTarget | MqttTarget) -> bool:
    """A text template with a `${` that no `}` closes: Orion's macroSubstitute gives up and no
    notification is built (the `json` and `ngsi` templates keep such a string as it is)."""
    texts = [target.payload or ""]
    if isinstance(target, HttpTarget):
        texts += [target.url, *target.headers, *target.headers.values(), *target.qs, *target.qs.values()]
    else:
        texts.append(target.topic)
    for text in texts:
        start = text.find("${")
        while start >= 0:
            end = text.find("}", start)
            if end < 0:
                return True
            start = text.find("${", end + 1)
    return False
