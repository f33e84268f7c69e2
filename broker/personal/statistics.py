"""Statistics that identify nobody: aggregates per group, with small cells suppressed. Pure.

A cell with fewer than k distinct subjects is left out; when exactly one cell would be left out,
the next smallest is left out too, so no total minus the published cells reveals it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from broker.ngsi.errors import bad_request, parse_error
from broker.ngsi.model import Entity
from broker.ngsi.query import parse_q
from broker.ngsi.query.ast import Query
from broker.ngsi.render import attribute_value, render_number
from broker.ngsi.validation import check_identifier

AGGREGATES = ("avg", "sum", "min", "max")
FIELDS = ("type", "groupBy", "metrics", "q")


@dataclass(frozen=True)
class StatisticsRequest:
    type: str
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]  # "count" or "<aggregate>:<attribute>"
    q: Query | None = None

    @property
    def attrs(self) -> set[str]:
        return set(self.group_by) | {m.split(":", 1)[1] for m in self.metrics if ":" in m}


def parse_statistics(body: Any) -> StatisticsRequest:
    if not isinstance(body, dict):
        raise parse_error()
    unknown = [k for k in body if k not in FIELDS]
    if unknown:
        raise bad_request(f"unknown field in statistics request: /{unknown[0]}/")
    if "type" not in body:
        raise bad_request("mandatory field /type/ not found")
    type_ = check_identifier(body["type"], "entity type")
    group_by = body.get("groupBy", [])
    if not isinstance(group_by, list):
        raise bad_request("/groupBy/ must be an array of attribute names")
    metrics = body.get("metrics", ["count"])
    if not isinstance(metrics, list) or not metrics:
        raise bad_request("/metrics/ must be a non-empty array")
    for m in metrics:
        if not isinstance(m, str):
            raise bad_request("invalid metric: must be a string")
        if m == "count":
            continue
        agg, _, attr = m.partition(":")
        if agg not in AGGREGATES or not attr:
            raise bad_request(f"invalid metric /{m}/: count, or avg|sum|min|max:<attribute>")
        check_identifier(attr, "attribute name")
    q = body.get("q")
    if q is not None and not isinstance(q, str):
        raise bad_request("/q/ must be a string")
    return StatisticsRequest(
        type=type_,
        group_by=tuple(check_identifier(g, "attribute name") for g in group_by),
        metrics=tuple(dict.fromkeys(metrics)),
        q=parse_q(q) if q else None,
    )


@dataclass
class _Cell:
    group: dict[str, Any]
    subjects: set[str] = field(default_factory=set)
    count: int = 0
    numbers: dict[str, list[float]] = field(default_factory=dict)


def _number(entity: Entity, attr: str) -> float | None:
    a = entity.attrs.get(attr)
    if a is None or isinstance(a.value, bool) or not isinstance(a.value, (int, float)):
        return None
    return float(a.value)


def _group_value(entity: Entity, attr: str) -> Any:
    a = entity.attrs.get(attr)
    if a is None:
        return None
    value = attribute_value(a)
    return value if isinstance(value, (str, int, float, bool)) or value is None else None


def aggregate(req: StatisticsRequest, rows: Iterable[tuple[str, Entity]], k: int) -> dict[str, Any]:
    """`rows` are (subject, entity as the analyst may see it); the answer has only cells of >= k subjects."""
    cells: dict[tuple[Any, ...], _Cell] = {}
    numeric = {m.split(":", 1)[1] for m in req.metrics if ":" in m}
    for subject, entity in rows:
        key = tuple(_group_value(entity, g) for g in req.group_by)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell(dict(zip(req.group_by, key)))
        cell.subjects.add(subject)
        cell.count += 1
        for attr in numeric:
            x = _number(entity, attr)
            if x is not None:
                cell.numbers.setdefault(attr, []).append(x)
    ordered = sorted(cells.values(), key=lambda c: (len(c.subjects), c.count, repr(sorted(c.group.items()))))
    small = [c for c in ordered if len(c.subjects) < k]
    kept = [c for c in ordered if len(c.subjects) >= k]
    if len(small) == 1 and kept:
        small.append(kept.pop(0))  # a lone suppressed cell could be recovered from a total
    kept.sort(key=lambda c: repr([c.group.get(g) for g in req.group_by]))
    return {"k": k, "cells": [_render(c, req) for c in kept], "suppressed": len(small)}


def _render(cell: _Cell, req: StatisticsRequest) -> dict[str, Any]:
    out: dict[str, Any] = {"group": cell.group, "subjects": len(cell.subjects)}
    for m in req.metrics:
        if m == "count":
            out["count"] = cell.count
            continue
        agg, _, attr = m.partition(":")
        values = cell.numbers.get(attr, [])
        if not values:
            out[m] = None
        elif agg == "avg":
            out[m] = render_number(sum(values) / len(values))
        elif agg == "sum":
            out[m] = render_number(sum(values))
        elif agg == "min":
            out[m] = render_number(min(values))
        else:
            out[m] = render_number(max(values))
    return out
