"""The published consent and statistics schemas agree with their parsers on landmark payloads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from broker.ngsi.errors import NgsiError
from broker.personal.consents import parse_consent
from broker.personal.statistics import parse_statistics

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DOCS = {
    n: json.loads((SCHEMAS / f"{n}.schema.json").read_text())
    for n in ("consent", "statistics", "metadata", "attribute", "entity")
}
REGISTRY: Registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in DOCS.values())


def valid(name: str, body: Any) -> bool:
    Draft202012Validator.check_schema(DOCS[name])
    return Draft202012Validator(DOCS[name], registry=REGISTRY).is_valid(body)


def parses(parse: Any, body: Any) -> bool:
    try:
        parse(body)
    except NgsiError:
        return False
    return True


BASE = {"recipient": "svc-clinic", "entityTypes": ["HealthRecord"], "purpose": "health-guidance"}


@pytest.mark.parametrize(
    "body",
    [
        BASE,
        {**BASE, "attrs": ["steps"], "operations": ["read", "statistics"], "expires": "2099-03-31T00:00:00.000Z"},
        {**BASE, "attrs": None},
        {k: v for k, v in BASE.items() if k != "recipient"},
        {**BASE, "entityTypes": []},
        {**BASE, "purpose": ""},
        {**BASE, "operations": ["delete"]},
        {**BASE, "expires": "soon"},
        {**BASE, "subject": "bob"},
        {**BASE, "recipient": "svc clinic"},
        [BASE],
    ],
)
def test_consent_schema_and_parser_agree(body: Any) -> None:
    now = time.time()
    assert valid("consent", body) == parses(lambda b: parse_consent(b, subject="alice", consent_id="c", now=now), body)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "HealthRecord"},
        {
            "type": "HealthRecord",
            "groupBy": ["district"],
            "metrics": ["count", "avg:steps", "max:steps"],
            "q": "steps>1",
        },
        {"groupBy": ["district"]},
        {"type": "HealthRecord", "metrics": ["median:steps"]},
        {"type": "HealthRecord", "metrics": []},
        {"type": "HealthRecord", "groupBy": "district"},
        {"type": "HealthRecord", "extra": 1},
    ],
)
def test_statistics_schema_and_parser_agree(body: Any) -> None:
    assert valid("statistics", body) == parses(parse_statistics, body)
