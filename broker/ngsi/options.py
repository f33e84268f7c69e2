"""URI parameters shared by many endpoints: `options`, `limit`, `offset`."""

from __future__ import annotations

from dataclasses import dataclass

from broker.ngsi.errors import bad_request
from broker.ngsi.selection import Page

KNOWN_OPTIONS = frozenset(
    {
        "count",
        "keyValues",
        "values",
        "unique",
        "upsert",
        "append",
        "overrideMetadata",
        "forcedUpdate",
        "skipForwarding",
        "flowControl",
        "noAttrDetail",
        "normalized",
        "fullCounters",  # /statistics; Orion knows it on every URL
        "dateCreated",
        "dateModified",  # deprecated: as `attrs=*,dateCreated` (Orion still honours them)
    }
)
DATE_OPTIONS = ("dateCreated", "dateModified")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Options:
    flags: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> Options:
        if not text:
            return cls()
        names = [n.strip() for n in text.split(",") if n.strip() != ""]
        for name in names:
            if name not in KNOWN_OPTIONS:
                raise bad_request("Invalid value for URI param /options/")
        return cls(frozenset(names))

    def __contains__(self, name: str) -> bool:
        return name in self.flags

    @property
    def builtin_attrs(self) -> tuple[str, ...]:
        """The built-in attributes the deprecated `dateCreated`/`dateModified` options add."""
        return tuple(name for name in DATE_OPTIONS if name in self.flags)

    @property
    def format(self) -> str:
        """The representation asked for, in Orion's precedence: `keyValues`, `values`, `unique`
        (values without repeats), else `normalized`."""
        for name in ("keyValues", "values", "unique"):
            if name in self.flags:
                return name
        return "normalized"


def parse_page(limit: str | None, offset: str | None, *, default_limit: int = DEFAULT_LIMIT) -> Page:
    lim = default_limit
    off = 0
    if limit is not None:
        if not limit.isdigit():
            raise bad_request(f"Bad pagination limit: /{limit}/ [must be a decimal number]")
        lim = int(limit)  # 0 is allowed since Orion 3.7: no items, only the count
        if lim > MAX_LIMIT:
            raise bad_request(f"Bad pagination limit: /{limit}/ [max: {MAX_LIMIT}]")
    if offset is not None:
        if not offset.isdigit():
            raise bad_request(f"Bad pagination offset: /{offset}/ [must be a decimal number]")
        off = int(offset)
    return Page(limit=lim, offset=off)
