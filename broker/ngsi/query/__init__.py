"""Orion's Simple Query Language (`q` and `mq`): parsing and in-memory evaluation."""

from __future__ import annotations

from broker.ngsi.query.ast import Compare, DateValue, Exists, Path, Query, Range, ValueList
from broker.ngsi.query.evaluate import matches
from broker.ngsi.query.parser import parse_mq, parse_q

__all__ = [
    "Compare",
    "DateValue",
    "Exists",
    "Path",
    "Query",
    "Range",
    "ValueList",
    "matches",
    "parse_mq",
    "parse_q",
]
