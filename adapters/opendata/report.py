"""Text the importer prints: the dry-run's list of changes and the closing summary."""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.opendata.importer import Plan, Summary
from adapters.opendata.records import Rejection


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def dry_run_lines(plan: Plan) -> list[str]:
    lines = []
    for c in plan.creates:
        lines.append(
            f"create {c.entity['id']} ({c.label}): "
            + ", ".join(f"{k}={_short(c.entity[k]['value'])}" for k in c.changed)
        )
    for c in plan.updates:
        before = c.before or {}
        parts = [
            f"{k}: {_short((before.get(k) or {}).get('value'))} -> {_short(c.entity[k]['value'])}" for k in c.changed
        ]
        lines.append(f"update {c.entity['id']} ({c.label}): " + "; ".join(parts))
    return lines


def _order(r: Rejection) -> tuple[int, str]:
    m = re.search(r"\d+", r.label)
    return (int(m.group()) if m else 0, r.label)


def summary_lines(summary: Summary, dry_run: bool) -> list[str]:
    verb = "would be " if dry_run else ""
    lines = [
        f"{verb}created: {summary.created}",
        f"{verb}updated: {summary.updated}",
        f"unchanged: {summary.unchanged}",
        f"rejected: {len(summary.rejected)}",
    ]
    lines += [f"  {r.label}: {r.reason}" for r in sorted(summary.rejected, key=_order)]
    return lines
