"""`orderBy`: a comma list of `id`, `type`, `dateCreated`, `dateModified`, `geo:distance` or
attribute names (a dotted name orders by a path inside the attribute's value); `!` descends."""

from __future__ import annotations

from broker.ngsi.errors import bad_request
from broker.storage.port import OrderKey

MAX_ORDER_KEYS = 32  # MongoDB's limit on the keys of a sort, so Orion's too; SQLite's is 2,000 terms


def parse_order_by(text: str | None) -> tuple[OrderKey, ...]:
    if not text:
        return ()
    keys: list[OrderKey] = []
    for token in text.split(","):
        token = token.strip()
        descending = token.startswith("!")
        name = token[1:] if descending else token
        if not name:
            continue
        if name == "geo:distance":
            keys.append(OrderKey(name, (), descending))
            continue
        attr, *sub = name.split(".")
        keys.append(OrderKey(attr, tuple(sub), descending))
    if len(keys) > MAX_ORDER_KEYS:
        raise bad_request(f"orderBy: too many keys: {len(keys)}, max supported: {MAX_ORDER_KEYS}")
    return tuple(keys)
