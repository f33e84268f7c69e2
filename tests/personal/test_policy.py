"""The pure pieces: consent views, their visibility constraint, statistics suppression."""

from __future__ import annotations

from broker.ngsi.consent import Consent
from broker.ngsi.model import Attribute, Entity
from broker.personal.policy import SELF, build_view
from broker.personal.statistics import StatisticsRequest, aggregate


def _consent(id_: str, subject: str, recipient: str = "svc", attrs=("a",), ops=("read",), expires=None, withdrawn=None):
    return Consent(id_, subject, recipient, ("T",), attrs, "p", ops, 0.0, expires, withdrawn)


def _entity(subject: str, **values: object) -> Entity:
    return Entity(
        id=f"E-{subject}",
        type="T",
        attrs={"owner": Attribute("Text", subject), **{k: Attribute("Number", v) for k, v in values.items()}},
    )


def test_consents_of_one_subject_add_up_and_group_into_grants():
    consents = [
        _consent("c1", "alice"),
        _consent("c2", "alice", attrs=("b",)),
        _consent("c3", "bob"),
        _consent("c4", "carol", attrs=None),
        _consent("c5", "dave", recipient="other"),
        _consent("c6", "erin", expires=5.0),
        _consent("c7", "frank", withdrawn=1.0),
        _consent("c8", "gina", ops=("write",)),
    ]
    view = build_view({"T": "owner"}, consents, principal="svc", roles=("service",), operation="read", now=10.0)
    assert set(view.access) == {("T", "alice"), ("T", "bob"), ("T", "carol")}
    assert view.access[("T", "alice")].attrs == frozenset({"a", "b"}) and view.access[("T", "alice")].consents == (
        "c1",
        "c2",
    )
    grants = {(g.subjects, g.attrs) for g in view.visibility().grants}
    assert grants == {(("alice",), frozenset({"a", "b"})), (("bob",), frozenset({"a"})), (("carol",), None)}
    shown = view.project(_entity("alice", a=1, b=2, c=3))
    assert shown is not None and set(shown.attrs) == {"a", "b"}
    assert view.project(_entity("dave", a=1)) is None
    assert view.project(Entity(id="X", type="Open", attrs={"c": Attribute("Number", 1)})) is not None


def test_a_resident_sees_its_own_data_but_not_for_statistics():
    view = build_view({"T": "owner"}, [], principal="alice", roles=("resident",), operation="read", now=0.0)
    assert view.access[("T", "alice")].consents == (SELF,)
    stats = build_view({"T": "owner"}, [], principal="alice", roles=("resident",), operation="statistics", now=0.0)
    assert stats.access == {}
    anonymous = build_view({"T": "owner"}, [], principal=None, roles=(), operation="read", now=0.0)
    assert anonymous.visibility().grants == () and anonymous.visibility().hidden_types == ("T",)


def test_small_cells_are_suppressed_and_a_lone_one_takes_the_next_smallest_with_it():
    req = StatisticsRequest("T", ("g",), ("count",))
    rows = [
        (f"s{i}", Entity(id=f"E{i}", type="T", attrs={"g": Attribute("Text", g)})) for i, g in enumerate("aaaabbbc")
    ]
    assert aggregate(req, rows, k=3) == {
        "k": 3,
        "cells": [{"group": {"g": "a"}, "subjects": 4, "count": 4}],
        "suppressed": 2,
    }
    assert aggregate(req, rows, k=1)["suppressed"] == 0
    two_small = rows + [("s9", Entity(id="E9", type="T", attrs={"g": Attribute("Text", "d")}))]
    result = aggregate(req, two_small, k=3)
    assert [c["group"]["g"] for c in result["cells"]] == ["a", "b"] and result["suppressed"] == 2
    same_subject = [("s1", Entity(id=f"E{i}", type="T", attrs={"g": Attribute("Text", "a")})) for i in range(5)]
    assert aggregate(req, same_subject, k=3)["cells"] == []  # five entities of one subject are still one subject
