"""`orderBy`: a comma list of `id`, `type`, `dateCreated`, `dateModified`, `geo:distance` or
attribute names (a dotted name orders by a path inside the attribute's value); `!` descends."""

from __future__ import annotations

from broker.storage.port import OrderKey


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
    return tuple(keys)
