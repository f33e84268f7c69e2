"""Consent payloads: parsing and validation of `POST /personal/v1/consents`, and rendering."""

from __future__ import annotations

from typing import Any

from broker.ngsi.consent import OPERATIONS, Consent
from broker.ngsi.datetimes import format_iso8601, parse_iso8601
from broker.ngsi.errors import bad_request, parse_error
from broker.ngsi.validation import check_identifier

FIELDS = ("recipient", "entityTypes", "attrs", "purpose", "operations", "expires")
MAX_PURPOSE = 1024


def _names(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise bad_request(f"/{what}/ must be a non-empty array of strings")
    return tuple(dict.fromkeys(check_identifier(v, what) for v in value))


def parse_consent(body: Any, *, subject: str, consent_id: str, now: float) -> Consent:
    if not isinstance(body, dict):
        raise parse_error()
    unknown = [k for k in body if k not in FIELDS]
    if unknown:
        raise bad_request(f"unknown field in consent: /{unknown[0]}/")
    for required in ("recipient", "entityTypes", "purpose"):
        if required not in body:
            raise bad_request(f"mandatory field /{required}/ not found")
    recipient = check_identifier(body["recipient"], "recipient")
    purpose = body["purpose"]
    if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > MAX_PURPOSE:
        raise bad_request(f"/purpose/ must be a non-empty string of at most {MAX_PURPOSE} characters")
    operations: tuple[str, ...] = ("read",)
    if "operations" in body:
        operations = _names(body["operations"], "operations")
        bad = [o for o in operations if o not in OPERATIONS]
        if bad:
            raise bad_request(f"invalid operation /{bad[0]}/: must be one of read, write, statistics")
    expires = None
    if body.get("expires") is not None:
        raw = body["expires"]
        expires = parse_iso8601(raw) if isinstance(raw, str) else None
        if expires is None:
            raise bad_request("/expires/ must be an ISO 8601 date and time")
        if expires <= now:
            raise bad_request("/expires/ is in the past")
    attrs = _names(body["attrs"], "attrs") if body.get("attrs") is not None else None
    return Consent(
        id=consent_id,
        subject=subject,
        recipient=recipient,
        entity_types=_names(body["entityTypes"], "entityTypes"),
        attrs=attrs,
        purpose=purpose,
        operations=operations,
        created_at=now,
        expires=expires,
    )


def render_consent(c: Consent, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "subject": c.subject,
        "recipient": c.recipient,
        "entityTypes": list(c.entity_types),
    }
    if c.attrs is not None:
        out["attrs"] = list(c.attrs)
    out["purpose"] = c.purpose
    out["operations"] = list(c.operations)
    if c.expires is not None:
        out["expires"] = format_iso8601(c.expires)
    out["status"] = c.status(now)
    out["createdAt"] = format_iso8601(c.created_at)
    if c.withdrawn_at is not None:
        out["withdrawnAt"] = format_iso8601(c.withdrawn_at)
    return out
