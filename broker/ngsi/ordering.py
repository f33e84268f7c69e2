"""`orderBy`: a comma list of `id`, `type`, `dateCreated`, `dateModified` or attribute names (a
dotted name orders by a path inside the attribute's value); `!` descends.

`geo:distance` orders by distance only as the whole parameter (Orion compares `orderBy` with
`geo:distance` as a string); inside a list, or as `!geo:distance`, it is an attribute name, which
no entity can have (it is reserved), so it orders nothing."""

from __future__ import annotations

from broker.storage.port import OrderKey


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
    return tuple(keys)
