"""Validation of a `POST /v2/registrations` body, with Orion's checks in Orion's order (parseRegistration.cpp),
and of a `PATCH /v2/registrations/{id}` body with the same checks, field by field.

Every refusal is a 400 BadRequest, but `idPattern` other than `.*` and `typePattern`, which Orion
does not implement for registrations (501). Unknown fields are ignored, as Orion ignores them.
"""

from __future__ import annotations

from typing import Any

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.orion_url import parse_orion_url
from broker.ngsi.registration import FORWARDING_MODES, ProvidedEntity, Registration
from broker.ngsi.validation import has_forbidden_chars, parse_entity_items

MAX_DESCRIPTION = 1024
DATA_PROVIDED_IS_FIXED = "the field /dataProvided/ cannot be modified"


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


DataProvided = tuple[tuple[ProvidedEntity, ...], tuple[str, ...]]  # entities, attrs


def _data_provided(body: dict[str, Any]) -> DataProvided:
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
    if parse_orion_url(url) is None:  # Orion's parseUrl: mqtt:// passes, [::1] does not
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


def _top(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("not a JSON object")
    if not body:
        raise bad_request("empty payload")
    return body


def _description(body: dict[str, Any]) -> str | None:
    """The description given (None: absent); `""` too, which leaves a registration without one."""
    if "description" not in body:
        return None
    description = body["description"]
    if not isinstance(description, str):
        raise bad_request("invalid description")
    if len(description) > MAX_DESCRIPTION:
        raise bad_request("max description length exceeded")
    if has_forbidden_chars(description):
        raise bad_request("forbidden characters in description")
    return description


def _expires(raw: Any) -> float | None:
    """Epoch seconds of a present `expires`; None for `""`, a permanent registration."""
    if not isinstance(raw, str):
        raise bad_request("expires is not a string")
    if not raw:
        return None
    expires = parse_iso8601(raw)
    if expires is None:
        raise bad_request("the field /expires/ has an invalid format")
    return expires


def _status(raw: Any) -> str:
    if not isinstance(raw, str):
        raise bad_request("/status/ must be a string")
    if raw not in ("active", "inactive"):
        raise bad_request("invalid value for /status/")
    return raw


def parse_registration(body: Any, *, new_id: str, tenant: str, service_path: str) -> Registration:
    body = _top(body)
    description = _description(body)
    entities, attrs = _data_provided(body)
    url, mode, legacy = _provider(body)
    expires = _expires(body["expires"]) if "expires" in body else None
    status = _status(body["status"]) if "status" in body else None
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


def parse_registration_patch(body: Any) -> tuple[dict[str, Any], DataProvided | None]:
    """`PATCH /v2/registrations/{id}` (an area-broker extension: Orion 4.x answers 405): the changes,
    by `Registration` field name (`broker.ngsi.registration.CHANGEABLE`), of the top-level fields given.

    As `PATCH /v2/subscriptions` does, each field given replaces the stored one whole, with the
    checks (and texts, and order) of its creation: `provider` is then a whole provider (`http.url`,
    `supportedForwardingMode` and `legacyForwarding` defaulting as at creation); `description: ""`
    and `expires: ""` take them away. `dataProvided` cannot change (it is what the registration is
    about: delete it and create another), so the one given, checked as at creation, is returned
    beside the changes for the caller to compare with the stored one: clients that PATCH back the
    registration they read (FiLiP's `update_registration`) send it unchanged. Unknown fields are
    ignored, as at creation and by Orion.
    """
    body = _top(body)
    changes: dict[str, Any] = {}
    description = _description(body)
    if description is not None:
        changes["description"] = description or None
    data_provided = _data_provided(body) if "dataProvided" in body else None
    if "provider" in body:
        changes["url"], changes["forwarding_mode"], changes["legacy_forwarding"] = _provider(body)
    if "expires" in body:
        changes["expires"] = _expires(body["expires"])
    if "status" in body:
        changes["status"] = _status(body["status"])
    return changes, data_provided


def check_data_provided_unchanged(given: DataProvided | None, stored: Registration) -> None:
    """400 unless the `dataProvided` a PATCH carried (None: none) is the stored one."""
    if given is not None and given != (stored.entities, stored.attrs):
        raise bad_request(DATA_PROVIDED_IS_FIXED)
