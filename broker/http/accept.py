"""The `Accept` header read as Orion reads it (rest.cpp `acceptParse`): a pure function.

Orion keeps only the media ranges it can serve, spelled exactly (`*/*`, `application/*`,
`application/json`, `text/*`, `text/plain`) and ignores the others; a range may carry a `q`
parameter, and only `q` may come first. A malformed parameter is a 400 naming the fault, an
empty header a 400, and a header with no range Orion knows a 406.
"""

from __future__ import annotations

import re

from broker.ngsi.errors import NgsiError, bad_request

KNOWN_RANGES = frozenset({"*/*", "application/*", "application/json", "text/*", "text/plain"})
NO_ACCEPTABLE = "no acceptable mime-type in accept header"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _item_error(parameters: str) -> str | None:
    """Orion's complaint about the parameters after a known media range, or None."""
    rest = parameters.lstrip(" \t")
    if rest == "":
        return None
    if not rest.startswith("q"):
        return "q missing in accept header"
    if rest[1:2] != "=":
        return "missing equal-sign after q in accept header"
    qvalue = rest[2:].split(";", 1)[0]  # what follows the q value (extensions) is ignored
    if qvalue == "":
        return "qvalue in accept header is missing"
    if not _NUMBER.fullmatch(qvalue):
        return "qvalue in accept header is not a number"
    return None


def accepted_ranges(header: str) -> list[str]:
    """The media ranges of `header` Orion recognises, in header order; raises Orion's errors."""
    if header == "":
        raise bad_request("empty accept header")
    ranges: list[str] = []
    error: str | None = None
    for index, item in enumerate(header.split(",")):
        if index > 0:
            item = item.lstrip(" \t")  # Orion steps over whitespace after a comma only
        if item == "":
            continue
        media, semicolon, parameters = item.partition(";")
        if media not in KNOWN_RANGES:
            continue
        problem = _item_error(parameters) if semicolon else None
        if problem is not None:
            error = problem  # Orion reads on; the last fault is the one reported
            continue
        ranges.append(media)
    if error is not None:
        raise bad_request(error)
    if not ranges:
        raise NgsiError(406, "NotAcceptable", NO_ACCEPTABLE)
    return ranges


def media_ranges(header: str) -> list[str]:
    """Every media range of `header`, parameters dropped: for `/admin/metrics`, which Prometheus
    scrapes with `text/plain;version=0.0.4`, a form Orion's reading would refuse."""
    return [part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()]
