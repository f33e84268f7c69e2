from __future__ import annotations

import pytest

from broker.ngsi.context import ServicePathScope
from broker.ngsi.errors import NgsiError
from broker.ngsi.tenancy import parse_read_scopes, parse_tenant, parse_write_path


def test_tenant_is_lowercased_and_empty_means_default():
    assert parse_tenant("MyCity_1") == "mycity_1"
    assert parse_tenant("") == ""
    assert parse_tenant(None) == ""


@pytest.mark.parametrize("bad", ["a-b", "a b", "x" * 51, "ñ"])
def test_bad_tenants_are_rejected(bad):
    with pytest.raises(NgsiError) as exc:
        parse_tenant(bad)
    assert exc.value.status == 400


def test_read_scopes_default_to_everything_and_accept_subtrees():
    assert parse_read_scopes(None) == (ServicePathScope("/", True),)
    assert parse_read_scopes("/a/b, /c/#") == (ServicePathScope("/a/b"), ServicePathScope("/c", True))


@pytest.mark.parametrize(
    "header, description",
    [
        ("a/b", "Only /absolute/ Service Paths allowed [a service path must begin with /]"),
        ("/a-b", "a component of ServicePath contains an illegal character"),
        ("/" + "x" * 51, "component-name too long in ServicePath"),
        ("/" + "/".join("abcdefghijk"), "too many components in ServicePath"),
        (",".join(["/a"] * 11), "too many service paths - a maximum of ten service paths is allowed"),
        ("//a", "empty component in ServicePath"),
        ("/a///b", "empty component in ServicePath"),
        ("/a/b//", "empty component in ServicePath"),
    ],
)
def test_bad_service_paths_have_orions_descriptions(header, description):
    with pytest.raises(NgsiError) as exc:
        parse_read_scopes(header)
    assert exc.value.description == description


def test_writes_take_exactly_one_path_and_no_subtree():
    assert parse_write_path(None) == "/"
    assert parse_write_path("/a/b") == "/a/b"
    for bad in ("/a,/b", "/a/#"):
        with pytest.raises(NgsiError):
            parse_write_path(bad)


def test_scope_containment():
    sub = ServicePathScope("/a", True)
    assert sub.contains("/a") and sub.contains("/a/b") and not sub.contains("/ab")


def test_one_trailing_slash_is_dropped_but_not_two():
    assert parse_write_path("/a/b/") == "/a/b"
    assert parse_read_scopes("/a/#/") == (ServicePathScope("/a", True),)
    assert parse_write_path("//") == "/"
    with pytest.raises(NgsiError) as exc:
        parse_write_path("/a/b//")
    assert exc.value.description == "empty component in ServicePath"
