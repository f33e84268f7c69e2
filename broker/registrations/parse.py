"""Validation of a `POST /v2/registrations` body, with Orion's checks in Orion's order (parseRegistration.cpp).

Every refusal is a 400 BadRequest, but `idPattern` other than `.*` and `typePattern`, which Orion
does not implement for registrations (501). Unknown fields are ignored, as Orion ignores them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.registration import FORWARDING_MODES, ProvidedEntity, Registration
from broker.ngsi.validation import has_forbidden_chars, parse_entity_items

MAX_DESCRIPTION = 1024


def _not_implemented(description: str) -> NgsiError:
    return NgsiError(501, "NotImplemented", description)


def _entities(raw: Any) -> tuple[ProvidedEntity, ...]:
    items = parse_entity_items(raw)
    # Orion checks what it does not implement once every item parsed: idPattern first
    if any(id_pattern is not None and id_pattern != ".*" for _, id_pattern, _, _ in items):
        raise _not_implemented("Unsupported idPattern")
    if any(type_pattern is not None for _, _, _, type_pattern in items):
        raise _not_implemented("Unsupported typePattern")
    return tuple(ProvidedEntity(id=eid, id_pattern=id_pattern, type=etype) for eid, id_pattern, etype, _ in items)


def _attrs(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise bad_request("the field /attrs/ must be a JSON array")
    for name in raw:
        if not isinstance(name, str):
            raise bad_request("only JSON Strings allowed in string vector /attrs/")
        if not name:
            raise bad_request("empty string found in string vector /attrs/")
    return tuple(dict.fromkeys(raw))


def _data_provided(body: dict[str, Any]) -> tuple[tuple[ProvidedEntity, ...], tuple[str, ...]]:
    if "dataProvided" not in body:
        raise bad_request("the field /dataProvided/ is missing in payload")
    raw = body["dataProvided"]
    if not isinstance(raw, dict):
        raise bad_request("/dataProvided/ must be a JSON object")
    if not raw:
        raise bad_request("/dataProvided/ is empty")
    entities = _entities(raw["entities"]) if "entities" in raw else ()
    attrs = _attrs(raw["attrs"]) if "attrs" in raw else ()
    return entities, attrs


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)  # an unclosed IPv6 bracket (`http://[::1`) raises
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    try:
        port = parts.port
    except ValueError:
        return False
    return port is None or 0 < port <= 65535


def _provider(body: dict[str, Any]) -> tuple[str, str, bool]:
    if "provider" not in body:
        raise bad_request("the field /provider/ is missing in payload")
    raw = body["provider"]
    if not isinstance(raw, dict):
        raise bad_request("/provider/ must be a JSON object")
    if not raw:
        raise bad_request("/provider/ empty")
    if "http" not in raw:
        raise bad_request("/provider/ must contain a field /http/")
    http = raw["http"]
    if not isinstance(http, dict):
        raise bad_request("/http/ must be a JSON object")
    if "url" not in http:
        raise bad_request("/http/ must contain a field /url/")
    url = http["url"]
    if not isinstance(url, str):
        raise bad_request("/url/ field of /http/ must be a JSON string")
    if not url:
        raise bad_request("/url/ field of /http/ cannot be the empty string")
    if not _valid_url(url):
        raise bad_request("/url/ field of /http/ is invalid")
    mode = raw.get("supportedForwardingMode", "all")
    if not isinstance(mode, str):
        raise bad_request("/supportedForwardingMode/ must be a JSON string")
    if mode not in FORWARDING_MODES:
        raise bad_request("invalid value of /supportedForwardingMode/")
    legacy = raw.get("legacyForwarding", False)
    if not isinstance(legacy, bool):
        raise bad_request("the field /legacyForwarding/ must be a boolean")
    return url, mode, legacy


def parse_registration(body: Any, *, new_id: str, tenant: str, service_path: str) -> Registration:
    if not isinstance(body, dict):
        raise bad_request("not a JSON object")
    if not body:
        raise bad_request("empty payload")
    description = body.get("description")
    if "description" in body:
        if not isinstance(description, str):
            raise bad_request("invalid description")
        if len(description) > MAX_DESCRIPTION:
            raise bad_request("max description length exceeded")
        if has_forbidden_chars(description):
            raise bad_request("forbidden characters in description")
    entities, attrs = _data_provided(body)
    url, mode, legacy = _provider(body)
    expires = None
    if "expires" in body:
        if not isinstance(body["expires"], str):
            raise bad_request("expires is not a string")
        if body["expires"]:
            expires = parse_iso8601(body["expires"])
            if expires is None:
                raise bad_request("the field /expires/ has an invalid format")
    status = body.get("status")
    if "status" in body:
        if not isinstance(status, str):
            raise bad_request("/status/ must be a string")
        if status not in ("active", "inactive"):
            raise bad_request("invalid value for /status/")
    return Registration(
        id=new_id,
        tenant=tenant,
        service_path=service_path,
        entities=entities,
        attrs=attrs,
        url=url,
        forwarding_mode=mode,
        legacy_forwarding=legacy,
        description=description or None,
        expires=expires,
        status=status,
    )
