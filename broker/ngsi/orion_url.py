"""Which URLs Orion takes for a provider (and a notification): its own `parseUrl`, rule for rule.

Orion does not parse URLs as RFC 3986 does; it splits on `/` and `:` and checks the pieces
(src/lib/common/string.cpp). What it accepts and refuses differs from `urllib.parse` in ways a
client sees as a 400 or a 201: the scheme is exactly `http:`, `https:` or `mqtt:` (case included),
the host is an RFC 1034 name or dotted number (no `_`, no `user@`), a bracketed IPv6 (`[::1]`) is
refused while a bare one (`http://::1/`) passes, the port is read as C's `atoi` reads it (`80abc`
is 80), and leading slashes are skipped. The URL itself is stored verbatim: this only decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMES = ("http:", "https:", "mqtt:")
MAX_PORT = 65535
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_HEX = frozenset("0123456789abcdefABCDEF")
_LABEL = re.compile(r"[0-9A-Za-z-]{1,63}")


@dataclass(frozen=True)
class OrionUrl:
    """The pieces Orion takes from a URL it accepts."""

    protocol: str  # "http:", "https:" or "mqtt:"
    host: str
    port: int
    path: str  # "/" at least


def _split(text: str, sep: str) -> list[str]:
    """Orion's stringSplit: separators at the start skipped, then every piece, empty ones too."""
    rest = text.lstrip(sep)
    return rest.split(sep) if rest else []


def _atoi(text: str) -> int:
    """C's atoi as glibc has it: leading blanks, a sign, digits up to the first other character
    (none: 0); the long it reads, saturated, then cut to a 32-bit int."""
    match = _ATOI.match(text)
    if match is None:
        return 0
    value = max(-(2**63), min(2**63 - 1, int(match.group(1))))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _ipv6_and_port(token: str) -> tuple[str, str] | None:
    """Orion's getIPv6Port: all up to the last `:` is an IPv6 address when it has 2 to 7 colons and
    every group is at most 4 hex digits; what follows the last `:` is the port."""
    if ":" not in token:
        return None
    head, _, port = token.rpartition(":")
    groups = head.split(":")  # each group was followed by a colon
    if not 2 <= len(groups) <= 7:
        return None
    if any(len(g) > 4 or not set(g) <= _HEX for g in groups):
        return None
    return head, port


def _hostname_valid(host: str) -> bool:
    if ":" in host:  # taken for a numerical IPv6 address, which Orion does not check further
        return True
    if not host or len(host) > 253 or host[0] == "." or host[-1] == "." or ".." in host:
        return False
    return all(_LABEL.fullmatch(label) and label[0] != "-" and label[-1] != "-" for label in _split(host, "."))


def parse_orion_url(url: str) -> OrionUrl | None:
    """The URL's pieces when Orion accepts it, otherwise None."""
    tokens = _split(url, "/")
    if not tokens or tokens[0] not in SCHEMES:
        return None
    if len(tokens) < 3 or not tokens[2]:
        return None
    path = "".join("/" + t for t in tokens[3:]) or "/"
    ipv6 = _ipv6_and_port(tokens[2])
    if ipv6 is not None:
        host, port = ipv6[0], _atoi(ipv6[1])
    else:
        pieces = _split(tokens[2], ":")
        if not pieces or len(pieces) > 2:
            return None
        host = pieces[0]
        if len(pieces) == 2:
            if not pieces[1]:
                return None
            port = _atoi(pieces[1])
        else:
            port = 443 if tokens[0] == "https:" else 80
    if not 0 < port <= MAX_PORT or not _hostname_valid(host):
        return None
    return OrionUrl(protocol=tokens[0], host=host, port=port, path=path)
