"""Forwarded requests as Orion sends them to a context provider, and the provider's answers read back.

Pure: URLs, headers, bodies and parsing, no I/O. Orion appends `/op/query` or `/op/update` to the
registered URL as it is (a URL without a path gives `//op/query`, which IoT Agents listen on too),
posts compact JSON, and passes on the tenant, the service path, the token and the correlator with
`; cbfwd=<n>` appended. The provider answers a query with an array of normalized entities and an
update with 204.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from broker import __version__ as ORION_API_VERSION
from broker.ngsi.errors import NgsiError
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.payload import parse_entity
from broker.ngsi.render import render_attribute

VIA_PREFIX = "1.1 "  # a `Via` entry of ours: "1.1 <instance>" (RFC 9110, section 7.6.3)
FORWARD_MARK = "; cbfwd="  # Orion's marker of a forwarded request in the correlator


@dataclass(frozen=True)
class ForwardedEntity:
    """How a forwarded request names one entity: `id` or `idPattern`, and a type when known."""

    id: str | None
    id_pattern: str | None
    type: str | None

    def render(self) -> dict[str, str]:
        out = {"id": self.id} if self.id is not None else {"idPattern": self.id_pattern or ".*"}
        if self.type:
            out["type"] = self.type
        return out


LEGACY_RESOURCES = {"query": "/queryContext", "update": "/updateContext"}


def provider_url(url: str, operation: str, *, legacy: bool = False) -> str:
    """`<registered url>/op/<operation>`, as Orion builds it: the URL's path (`/` when it has none)
    and `/op/<operation>`, nothing added or removed, so `http://iota:4041` gives `//op/update`.
    A `legacyForwarding` provider gets NGSIv1's `/queryContext` or `/updateContext` instead."""
    parts = urlsplit(url)
    path = parts.path or "/"
    resource = LEGACY_RESOURCES[operation] if legacy else f"/op/{operation}"
    return urlunsplit((parts.scheme, parts.netloc, path + resource, parts.query, ""))


def query_body(entities: Iterable[ForwardedEntity], attrs: Iterable[str]) -> bytes:
    """`{"entities": [...], "attrs": [...]}`; `attrs` is always there, `[]` for every attribute."""
    return orjson.dumps({"entities": [e.render() for e in entities], "attrs": list(attrs)})


def update_body(entities: Iterable[tuple[str, str | None, dict[str, Attribute]]]) -> bytes:
    """An `op/update` with `actionType: update` (Orion forwards every update so) and normalized attributes."""
    items = []
    for entity_id, entity_type, attrs in entities:
        item: dict[str, Any] = {"id": entity_id}
        if entity_type:
            item["type"] = entity_type
        for name, attr in attrs.items():
            item[name] = render_attribute(attr)
        items.append(item)
    return orjson.dumps({"actionType": "update", "entities": items})


def forwarded_headers(
    *, tenant: str, service_path: str, auth_token: str, correlator: str, index: int, via: str, instance: str
) -> dict[str, str]:
    """Orion's headers of a forwarded request, in Orion's order, with our `Via` entry appended."""
    headers = {}
    if tenant:
        headers["Fiware-Service"] = tenant
    headers["Fiware-ServicePath"] = service_path or "/"
    if auth_token:
        headers["X-Auth-Token"] = auth_token
    headers["User-Agent"] = f"orion/{ORION_API_VERSION}"
    headers["Accept"] = "application/json"
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["Fiware-Correlator"] = f"{correlator}{FORWARD_MARK}{index}"
    headers["Via"] = f"{via}, {VIA_PREFIX}{instance}" if via else f"{VIA_PREFIX}{instance}"
    return headers


def hops(correlator: str) -> int:
    """How many brokers forwarded the request so far, by Orion's own marks in its correlator."""
    return correlator.count(FORWARD_MARK)


def passed_through(via: str, instance: str) -> bool:
    """True when the request already went through this broker (its `Via` names our instance)."""
    return any(part.strip() == VIA_PREFIX + instance for part in via.split(","))


class ProviderAnswerError(ValueError):
    """A provider's answer that is not what NGSI-v2 promises (not JSON, not an entity array...)."""


def _load(body: bytes) -> Any:
    """A provider's JSON answer; Orion's alarm texts for an empty or unparseable one."""
    if not body.strip():
        raise ProviderAnswerError("context provider response to QueryContext is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProviderAnswerError(f"error parsing reply from context provider: {exc}") from None


def parse_query_answer(body: bytes) -> list[Entity]:
    """The entities of a provider's `op/query` answer, normalized as Orion reads it (keyValues off).

    Orion ignores the provider's status code and reads the body; an empty, unparseable or invalid
    answer fails as a whole."""
    raw = _load(body)
    if not isinstance(raw, list):
        raise ProviderAnswerError("error parsing reply from context provider: not a JSON array")
    out: list[Entity] = []
    for item in raw:
        try:
            out.append(parse_entity(item))
        except NgsiError as exc:
            raise ProviderAnswerError(f"error parsing reply from context provider: {exc.description}") from None
    return out


def parse_total(header: str | None) -> int:
    """A provider's `Fiware-Total-Count`, 0 when missing or not a count."""
    if header is None or not header.strip().isdigit():
        return 0
    return int(header.strip())


MAX_REFUSAL = 64 * 1024  # characters of a provider's refusal read at most: Orion's are a line


def parse_update_failures(
    body: bytes, sent: Iterable[tuple[str, str | None, Iterable[str]]]
) -> dict[tuple[str, str | None], list[str]] | None:
    """What a provider that answered 404 or 422 to a forwarded update says it did not update.

    An Orion-like provider names them in its error: `do not exist: E1/T1 - [ A2 ], E2/T1 [entity
    itself]`. Of what was `sent` ((id, type, attribute names) per entity), the ones it names; None
    when the answer names none of them (then nothing it was sent can be said to be updated).
    Read with splits, in one pass, and only when short: the text is the provider's."""
    try:
        raw = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return None
    text = raw.get("description") if isinstance(raw, dict) else None
    prefix = "do not exist: "
    if not isinstance(text, str) or not text.startswith(prefix) or len(text) > MAX_REFUSAL:
        return None
    named: dict[tuple[str, str | None], set[str] | None] = {}
    for part in text[len(prefix) :].split("]"):
        head, bracket, names = part.partition("[")
        head = head.strip().removeprefix(",").strip().removesuffix("-").strip()
        if not bracket or not head:
            continue
        entity_id, slash, entity_type = head.partition("/")
        listed = names.strip()
        named[(entity_id, entity_type if slash else None)] = (
            None if listed == "entity itself" else {n.strip() for n in listed.split(",") if n.strip()}
        )
    out: dict[tuple[str, str | None], list[str]] = {}
    for entity_id, entity_type, attrs in sent:
        wanted = named.get((entity_id, entity_type), named.get((entity_id, None), set()))
        failed = [n for n in attrs if wanted is None or n in wanted]
        if failed:
            out[(entity_id, entity_type)] = failed
    return out or None


# -- NGSIv1, for registrations with `legacyForwarding: true` (still forwarded so by Orion 4.x) -------


def _v1_entity(entity_id: str | None, pattern: str | None, entity_type: str | None) -> dict[str, str]:
    out = {"type": entity_type or "", "isPattern": "false" if entity_id is not None else "true"}
    out["id"] = entity_id if entity_id is not None else (pattern or ".*")
    return out


def legacy_query_body(entities: Iterable[ForwardedEntity], attrs: Iterable[str]) -> bytes:
    """A `queryContext` request: `entities` (with `isPattern`) and `attributes` (absent for all)."""
    body: dict[str, Any] = {"entities": [_v1_entity(e.id, e.id_pattern, e.type) for e in entities]}
    names = list(attrs)
    if names:
        body["attributes"] = names
    return orjson.dumps(body)


def legacy_update_body(entities: Iterable[tuple[str, str | None, dict[str, Attribute]]]) -> bytes:
    """An `updateContext` request with `updateAction: UPDATE` and NGSIv1 attributes (metadata as a list)."""
    elements = []
    for entity_id, entity_type, attrs in entities:
        attributes = []
        for name, attr in attrs.items():
            rendered = render_attribute(attr)
            item: dict[str, Any] = {"name": name, "type": rendered["type"], "value": rendered["value"]}
            if rendered["metadata"]:
                item["metadatas"] = [{"name": k, **v} for k, v in rendered["metadata"].items()]
            attributes.append(item)
        elements.append({**_v1_entity(entity_id, None, entity_type), "attributes": attributes})
    return orjson.dumps({"contextElements": elements, "updateAction": "UPDATE"})


def _v1_elements(body: bytes) -> list[tuple[dict[str, Any], str]]:
    """The `contextResponses` of an NGSIv1 answer: (contextElement, status code) pairs."""
    raw = _load(body)
    responses = raw.get("contextResponses") if isinstance(raw, dict) else None
    if not isinstance(responses, list):
        if isinstance(raw, dict) and isinstance(raw.get("errorCode"), dict):
            return []  # NGSIv1's "no context element found" and the like
        raise ProviderAnswerError("error parsing reply from context provider: no contextResponses")
    out = []
    for item in responses:
        element = item.get("contextElement") if isinstance(item, dict) else None
        status = item.get("statusCode") if isinstance(item, dict) else None
        code = str(status.get("code", "")) if isinstance(status, dict) else ""
        if not isinstance(element, dict):
            raise ProviderAnswerError("error parsing reply from context provider: no contextElement")
        out.append((element, code))
    return out


def parse_legacy_query_answer(body: bytes) -> list[Entity]:
    """The entities of a `queryContextResponse` (elements whose status is 200)."""
    out: list[Entity] = []
    for element, code in _v1_elements(body):
        if code != "200":
            continue
        v2: dict[str, Any] = {"id": element.get("id"), "type": element.get("type") or "Thing"}
        for attr in element.get("attributes") or ():
            if not isinstance(attr, dict) or not isinstance(attr.get("name"), str):
                raise ProviderAnswerError("error parsing reply from context provider: bad attribute")
            item: dict[str, Any] = {"value": attr.get("value")}
            if attr.get("type"):
                item["type"] = attr["type"]
            metadata = {
                m["name"]: {k: v for k, v in m.items() if k != "name"}
                for m in attr.get("metadatas") or ()
                if isinstance(m, dict) and isinstance(m.get("name"), str)
            }
            if metadata:
                item["metadata"] = metadata
            v2[attr["name"]] = item
        try:
            out.append(parse_entity(v2))
        except NgsiError as exc:
            raise ProviderAnswerError(f"error parsing reply from context provider: {exc.description}") from None
    return out


def legacy_update_ok(body: bytes) -> bool:
    """An `updateContextResponse` whose every element has status 200."""
    try:
        elements = _v1_elements(body)
    except ProviderAnswerError:
        return False
    return bool(elements) and all(code == "200" for _, code in elements)
