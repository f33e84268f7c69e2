"""Entity <-> document, in the shape of Orion's `attrs` sub-document; shared by the backends."""

from __future__ import annotations

from typing import Any

from broker.ngsi.model import Attribute, Entity, Metadata


def attrs_to_doc(entity: Entity) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in entity.attrs.items():
        doc: dict[str, Any] = {"type": attr.type, "value": attr.value}
        if attr.metadata:
            doc["md"] = {n: {"type": m.type, "value": m.value} for n, m in attr.metadata.items()}
        doc["creDate"] = attr.cre_date
        doc["modDate"] = attr.mod_date
        out[name] = doc
    return out


def attrs_from_doc(doc: dict[str, Any]) -> dict[str, Attribute]:
    attrs: dict[str, Attribute] = {}
    for name, a in doc.items():
        stored_md = a.get("md")
        md = {n: Metadata(m.get("type", ""), m.get("value")) for n, m in stored_md.items()} if stored_md else {}
        attrs[name] = Attribute(
            type=a.get("type", ""),
            value=a.get("value"),
            metadata=md,
            cre_date=a.get("creDate", 0.0),
            mod_date=a.get("modDate", 0.0),
        )
    return attrs
