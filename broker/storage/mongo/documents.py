"""Entity <-> document in Orion's `entities` layout (doc/manuals/admin/database_model.md).

`_id: {id, type, servicePath}` (in that order: MongoDB compares sub-documents field by field),
`attrNames`, `attrs` (names with `.` stored as `=`) each `{type, value, md, mdNames, creDate,
modDate}`, float epoch `creDate`/`modDate`, `location: {attrName, coords}` in GeoJSON.
Our own fields are prefixed `_ab_`: the version (optimistic concurrency) and the creation
sequence (the tie-break of every order). A document Orion wrote has neither: it reads as
version 0 and sorts first.
"""

from __future__ import annotations

import datetime
from typing import Any

from broker.ngsi.model import EXPIRY_ATTR, Attribute, Entity, Metadata
from broker.storage.mongo.filters import SEQ
from broker.storage.mongo.keys import decode_key, encode_key

VERSION = "_ab_version"
EXP_DATE = "expDate"  # a BSON date: Orion's TTL index removes the entity then


def entity_key(entity: Entity) -> dict[str, str]:
    return {"id": entity.id, "type": entity.type, "servicePath": entity.service_path}


def as_doubles(value: Any) -> Any:
    """Numbers as Orion stores them: BSON doubles, also inside compound values (it renders `1.0` as `1`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if abs(value) < 2**63 else value
    if isinstance(value, dict):
        return {k: as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_doubles(v) for v in value]
    return value


def _attr_doc(attr: Attribute) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": attr.type, "value": as_doubles(attr.value)}
    if attr.metadata:
        doc["md"] = {encode_key(n): {"type": m.type, "value": as_doubles(m.value)} for n, m in attr.metadata.items()}
    doc["mdNames"] = list(attr.metadata)
    doc["creDate"] = attr.cre_date
    doc["modDate"] = attr.mod_date
    return doc


def content_fields(entity: Entity) -> dict[str, Any]:
    """Every field a write sets, but the key and the creation sequence."""
    fields: dict[str, Any] = {
        "attrNames": list(entity.attrs),
        "attrs": {encode_key(name): _attr_doc(attr) for name, attr in entity.attrs.items()},
        "creDate": entity.cre_date,
        "modDate": entity.mod_date,
    }
    if entity.location is not None:
        fields["location"] = {"attrName": entity.location.attr, "coords": entity.location.geometry}
    if entity.correlator is not None:
        fields["lastCorrelator"] = entity.correlator
    expires = expiry(entity)
    if expires is not None:
        fields[EXP_DATE] = datetime.datetime.fromtimestamp(expires, datetime.UTC).replace(tzinfo=None)
    return fields


def expiry(entity: Entity) -> float | None:
    """The epoch of a transient entity's `dateExpires` (a DateTime attribute), or None."""
    attr = entity.attrs.get(EXPIRY_ATTR)
    if attr is None or attr.type != "DateTime" or not isinstance(attr.value, (int, float)):
        return None
    return float(attr.value)


def new_document(entity: Entity, seq: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": entity_key(entity)}
    doc.update(content_fields(entity))
    doc[VERSION] = 1
    doc[SEQ] = seq
    return doc


def version_condition(version: int) -> Any:
    """What `_ab_version` holds when the caller read `version` (0: a document Orion wrote)."""
    return None if version == 0 else version


def entity_from_doc(doc: dict[str, Any]) -> Entity:
    key = doc["_id"]
    attrs: dict[str, Attribute] = {}
    for name, a in (doc.get("attrs") or {}).items():
        md = {decode_key(n): Metadata(m.get("type", ""), m.get("value")) for n, m in (a.get("md") or {}).items()}
        attrs[decode_key(name)] = Attribute(
            type=a.get("type", ""),
            value=a.get("value"),
            metadata=md,
            cre_date=a.get("creDate", 0.0),
            mod_date=a.get("modDate", 0.0),
        )
    order = doc.get("attrNames")
    if order and set(order) == set(attrs):
        attrs = {name: attrs[name] for name in order}  # attrNames keeps Orion's attribute order
    return Entity(
        id=key["id"],
        type=key.get("type", ""),
        service_path=key.get("servicePath", "/"),
        attrs=attrs,
        cre_date=doc.get("creDate", 0.0),
        mod_date=doc.get("modDate", 0.0),
        version=doc.get(VERSION) or 0,
        correlator=doc.get("lastCorrelator"),
    )
