"""`orderBy`: a comma list of `id`, `type`, `dateCreated`, `dateModified` or attribute names (a
dotted name orders by a path inside the attribute's value); `!` descends.

`geo:distance` orders by distance only as the whole parameter (Orion compares `orderBy` with
`geo:distance` as a string); inside a list, or as `!geo:distance`, it is an attribute name, which
no entity can have (it is reserved), so it orders nothing."""

from __future__ import annotations

from broker.ngsi.errors import bad_request
from broker.ngsi.selection import OrderKey

MAX_ORDER_KEYS = 32  # MongoDB's limit on the keys of a sort, so Orion's too; SQLite's is 2,000 terms


def parse_order_by(text: str | None) -> tuple[OrderKey, ...]:
    if not text:
        return ()
    if text == "geo:distance":
        return (OrderKey("geo:distance"),)
    keys: list[OrderKey] = []
    for token in text.split(","):
        token = token.strip()
        descending = token.startswith("!")
        name = token[1:] if descending else token
        if not name:
            continue
        if name == "geo:distance":
            continue
        attr, *sub = name.split(".")
        keys.append(OrderKey(attr, tuple(sub), descending))
    if len(keys) > MAX_ORDER_KEYS:
        raise bad_request(f"orderBy: too many keys: {len(keys)}, max supported: {MAX_ORDER_KEYS}")
    return tuple(keys)
