"""Registrations <-> documents in Orion's `registrations` layout (mongoRegistrationCreate.cpp, Registration::fromBson).

`_id` ObjectId, `description` (when set), `expiration` (Long max: permanent), `servicePath`,
`contextRegistration: [{entities: [{id, type} | {id: ".*", isPattern: true, type}], attrs: [{name,
type: ""}], providingApplication}]`, `status` (when given), `fwdMode`, `format` ("JSON": legacy
forwarding). What Orion has no field for lives in `_ab_` fields Orion ignores when it reads:
`_ab_seq` (the creation order), `_ab_owner`/`_ab_ownerRoles` (the creator, only when known) and the
forwarding counters `_ab_timesSent`, `_ab_lastForwarding`, `_ab_lastSuccess`, `_ab_lastFailure` (epoch
seconds, bumped in place by `forwarding_update`). A document Orion wrote reads with no owner and zero counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import Int64

from broker.ngsi.registration import CHANGEABLE, ProvidedEntity, Registration
from broker.storage.mongo.csubs import LONG_MAX

OWNER = "_ab_owner"
OWNER_ROLES = "_ab_ownerRoles"
TIMES_SENT = "_ab_timesSent"
LAST_FORWARDING = "_ab_lastForwarding"
LAST_SUCCESS = "_ab_lastSuccess"
LAST_FAILURE = "_ab_lastFailure"


def to_orion(reg: Registration) -> dict[str, Any]:
    """The fields of a `registrations` document, `_id` and `_ab_seq` aside, in Orion's order."""
    entities = []
    for e in reg.entities:
        item: dict[str, Any] = {"id": e.id} if e.id is not None else {"id": ".*", "isPattern": True}
        if e.type:
            item["type"] = e.type
        entities.append(item)
    out: dict[str, Any] = {}
    if reg.description:
        out["description"] = reg.description
    out["expiration"] = Int64(reg.expires) if reg.expires is not None else Int64(LONG_MAX)  # NumberLong
    out["servicePath"] = reg.service_path or "/"
    out["contextRegistration"] = [
        {
            "entities": entities,
            "attrs": [{"name": name, "type": ""} for name in reg.attrs],
            "providingApplication": reg.url,
        }
    ]
    if reg.status is not None:
        out["status"] = reg.status
    out["fwdMode"] = reg.forwarding_mode or "all"
    out["format"] = "JSON" if reg.legacy_forwarding else "normalized"
    return out


def ours(reg: Registration) -> dict[str, Any]:
    """The `_ab_` fields of a registration's document (`_ab_seq` aside): only those with a value."""
    out: dict[str, Any] = {}
    if reg.owner is not None:
        out[OWNER] = reg.owner
        out[OWNER_ROLES] = list(reg.owner_roles)
    if reg.times_sent:
        out[TIMES_SENT] = Int64(reg.times_sent)
    for field, value in (
        (LAST_FORWARDING, reg.last_forwarding),
        (LAST_SUCCESS, reg.last_success),
        (LAST_FAILURE, reg.last_failure),
    ):
        if value is not None:
            out[field] = float(value)
    return out


def change_update(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The update operators setting, in Orion's fields, the `Registration` fields `changes` names."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise ValueError(f"not changeable: {sorted(unknown)}")
    set_: dict[str, Any] = {}
    unset: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "description":
            if value:
                set_["description"] = value
            else:
                unset["description"] = ""
        elif name == "expires":
            set_["expiration"] = Int64(value) if value is not None else Int64(LONG_MAX)
        elif name == "status":
            if value is not None:
                set_["status"] = value
            else:
                unset["status"] = ""
        elif name == "url":
            set_["contextRegistration.0.providingApplication"] = value
        elif name == "forwarding_mode":
            set_["fwdMode"] = value or "all"
        elif name == "legacy_forwarding":
            set_["format"] = "JSON" if value else "normalized"
    update: dict[str, Any] = {}
    if set_:
        update["$set"] = set_
    if unset:
        update["$unset"] = unset
    return update


def forwarding_update(*, ok: bool, at: float) -> dict[str, Any]:
    """The update operators recording one forwarded request: one atomic step on the document."""
    return {
        "$inc": {TIMES_SENT: 1},
        "$set": {LAST_FORWARDING: float(at), LAST_SUCCESS if ok else LAST_FAILURE: float(at)},
    }


def _epoch(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def from_orion(stored: dict[str, Any], tenant: str) -> Registration:
    """The registration of a stored document, with Orion's defaults for what is missing."""
    (registration,) = stored.get("contextRegistration") or [{}]  # Orion too refuses more than one (NGSIv1 layout)
    entities = []
    for e in registration.get("entities") or ():
        pattern = e.get("isPattern") in (True, "true")  # a string up to Orion 4.2, a boolean since 4.3
        entities.append(
            ProvidedEntity(
                id=None if pattern else e.get("id"),
                id_pattern=e.get("id") if pattern else None,
                type=e.get("type") or None,
            )
        )
    expiration = stored.get("expiration")
    return Registration(
        id=str(stored["_id"]),
        tenant=tenant,
        service_path=stored.get("servicePath") or "/",
        entities=tuple(entities),
        attrs=tuple(a["name"] for a in registration.get("attrs") or () if isinstance(a, dict) and a.get("name")),
        url=registration.get("providingApplication", ""),
        forwarding_mode=stored.get("fwdMode") or "all",
        legacy_forwarding=stored.get("format", "JSON") == "JSON",
        description=stored.get("description") or None,
        expires=float(expiration) if isinstance(expiration, (int, float)) and 0 <= expiration < LONG_MAX else None,
        status=stored.get("status") or None,
        owner=stored.get(OWNER) if isinstance(stored.get(OWNER), str) else None,
        owner_roles=tuple(r for r in stored.get(OWNER_ROLES) or () if isinstance(r, str)),
        times_sent=int(stored.get(TIMES_SENT) or 0),
        last_forwarding=_epoch(stored.get(LAST_FORWARDING)),
        last_success=_epoch(stored.get(LAST_SUCCESS)),
        last_failure=_epoch(stored.get(LAST_FAILURE)),
    )
