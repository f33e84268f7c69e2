"""A registration as Orion renders it: `id`, `description`, `expires`, `dataProvided`, `provider`, `status`.

Then, once anything was forwarded, `forwardingInformation`: the manual documents it, Orion 4.x has its
renderer but never calls it (nor counts anything); ours follows that renderer's keys, order and rules
(`timesSent` always, each date only when there is one) where Orion's call would be, after `status`.
"""

from __future__ import annotations

from typing import Any

from broker.ngsi.datetimes import format_iso8601
from broker.ngsi.registration import Registration


def format_expires(epoch: float) -> str:
    """Orion renders a registration's `expires` in whole seconds with `.00Z` (orion-api.md, "Datetime support")."""
    return format_iso8601(float(int(epoch)))[: -len(".000Z")] + ".00Z"


def render_registration(reg: Registration) -> dict[str, Any]:
    out: dict[str, Any] = {"id": reg.id}
    if reg.description:
        out["description"] = reg.description
    if reg.expires is not None:
        out["expires"] = format_expires(reg.expires)
    entities = []
    for e in reg.entities:
        item = {"id": e.id} if e.id is not None else {"idPattern": e.id_pattern}
        if e.type:
            item["type"] = e.type
        entities.append(item)
    out["dataProvided"] = {"entities": entities, "attrs": list(reg.attrs)}
    out["provider"] = {
        "http": {"url": reg.url},
        "supportedForwardingMode": reg.forwarding_mode,
        "legacyForwarding": reg.legacy_forwarding,
    }
    out["status"] = reg.status or "active"
    if reg.times_sent > 0:
        out["forwardingInformation"] = render_forwarding_information(reg)
    return out


def render_forwarding_information(reg: Registration) -> dict[str, Any]:
    out: dict[str, Any] = {"timesSent": reg.times_sent}
    for key, epoch in (
        ("lastSuccess", reg.last_success),
        ("lastFailure", reg.last_failure),
        ("lastForwarding", reg.last_forwarding),
    ):
        if epoch is not None:
            out[key] = format_iso8601(epoch)
    return out
