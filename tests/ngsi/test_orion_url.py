"""Orion's parseUrl rules (src/lib/common/string.cpp), as a client sees them: accepted or refused."""

from __future__ import annotations

import pytest

from broker.ngsi.orion_url import OrionUrl, parse_orion_url


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("http://localhost:1234", OrionUrl("http:", "localhost", 1234, "/")),
        ("https://cp.example/v2", OrionUrl("https:", "cp.example", 443, "/v2")),
        ("http://cp.example/v2/", OrionUrl("http:", "cp.example", 80, "/v2/")),
        ("http://10.0.0.1:65535/a/b", OrionUrl("http:", "10.0.0.1", 65535, "/a/b")),
        ("mqtt://broker:1883", OrionUrl("mqtt:", "broker", 1883, "/")),  # Orion takes it for MQTT notifications
        ("http://cp.example:80abc/v2", OrionUrl("http:", "cp.example", 80, "/v2")),  # atoi stops at the first letter
        ("http://cp.example:+8080", OrionUrl("http:", "cp.example", 8080, "/")),
        ("http://cp.example:4294967376/", OrionUrl("http:", "cp.example", 80, "/")),  # atoi wraps to 32 bits
        ("http://:8080/v2", OrionUrl("http:", "8080", 80, "/v2")),  # leading ':' skipped: the host is "8080"
        ("//http://cp.example", OrionUrl("http:", "cp.example", 80, "/")),  # leading '/' skipped
        ("http:/a/cp.example/x", OrionUrl("http:", "cp.example", 80, "/x")),  # the third piece is the host
        ("http://::1/v2", OrionUrl("http:", ":", 1, "/v2")),  # a bare IPv6: all before the last ':' is the address
        ("http://fe80::1:8080/v2", OrionUrl("http:", "fe80::1", 8080, "/v2")),
        ("http://cp.example:80?x=1", OrionUrl("http:", "cp.example", 80, "/")),
        ("http://a-b.c-d.example/p q", OrionUrl("http:", "a-b.c-d.example", 80, "/p q")),
    ],
)
def test_urls_orion_accepts(url: str, parsed: OrionUrl) -> None:
    assert parse_orion_url(url) == parsed


@pytest.mark.parametrize(
    "url",
    [
        "",
        "cp.example/v2",
        "HTTP://cp.example",  # the scheme is compared as written
        "ftp://cp.example",
        "ws://cp.example",
        "http:cp.example",
        "http://",
        "http:///cp.example",
        "http://cp.example:",
        "http://cp.example:/v2",
        "http://cp.example:0",
        "http://cp.example:65536",
        "http://cp.example:-1",
        "http://cp.example:port",
        "http://cp.example:1:2",
        "http://[::1]:8080/v2",  # brackets are no hex digits: not IPv6, and too many ':'
        "http://[::1]/v2",
        "http://my_host/v2",
        "http://user@cp.example/v2",
        "http://user:pw@cp.example/v2",
        "http://cp.example?x=1",
        "http://.cp.example",
        "http://cp.example.",
        "http://cp..example",
        "http://-cp.example",
        "http://cp-.example",
        "http://" + "a" * 64 + ".example",
        "http://" + ".".join(["abcdefgh"] * 29),  # 260 characters
        "http://cp.exämple",
        "http://:",
        "http://:::/",
    ],
)
def test_urls_orion_refuses(url: str) -> None:
    assert parse_orion_url(url) is None
