"""Plan an import against what the broker holds, then write only what changed in `op/update` batches.

Re-running the same import finds every entity unchanged and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from adapters.ngsi_client import BrokerError, Destination, NgsiClient
from adapters.opendata.diff import changed_attrs
from adapters.opendata.mapping import Mapping, column_types, to_entity
from adapters.opendata.records import Dataset, Rejection

log = logging.getLogger("adapters.opendata")
Progress = Callable[[int], None]


@dataclass
class Change:
    label: str
    entity: dict[str, Any]  # for an update: only the changed attributes
    changed: list[str]
    before: dict[str, Any] | None = None


@dataclass
class Plan:
    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def build_entities(
    mapping: Mapping, dataset: Dataset, progress: Progress | None = None
) -> tuple[list[tuple[str, dict[str, Any]]], list[Rejection]]:
    """Each usable record's entity (first record wins an id), and the rejected records with reasons."""
    types = column_types(mapping, dataset.records)
    entities: list[tuple[str, dict[str, Any]]] = []
    rejected: list[Rejection] = []
    first_label: dict[str, str] = {}
    for record in dataset.records:
        try:
            entity = to_entity(mapping, record, types)
        except ValueError as e:
            rejected.append(Rejection(record.label, str(e)))
        else:
            if entity["id"] in first_label:
                rejected.append(
                    Rejection(record.label, f"id {entity['id']} is already used by {first_label[entity['id']]}")
                )
            else:
                first_label[entity["id"]] = record.label
                entities.append((record.label, entity))
        if progress:
            progress(1)
    return entities, rejected


async def plan_import(
    client: NgsiClient, dest: Destination, mapping: Mapping, dataset: Dataset, progress: Progress | None = None
) -> Plan:
    entities, rejected = build_entities(mapping, dataset, progress)
    held = await client.query_ids(dest, mapping.entity_type, [e["id"] for _, e in entities])
    plan = Plan(rejected=rejected)
    for label, entity in entities:
        existing = held.get(entity["id"])
        if existing is None:
            plan.creates.append(Change(label, entity, [k for k in entity if k not in ("id", "type")]))
            continue
        changed = changed_attrs(entity, existing)
        if not changed:
            plan.unchanged.append(entity["id"])
        else:
            partial = {"id": entity["id"], "type": entity["type"], **{k: entity[k] for k in changed}}
            plan.updates.append(Change(label, partial, changed, existing))
    return plan


async def apply_plan(
    client: NgsiClient, dest: Destination, plan: Plan, batch_size: int = 100, progress: Progress | None = None
) -> Summary:
    """Write creates and updates (upsert, `append`); a batch the broker refuses is split to find the bad entities."""
    summary = Summary(unchanged=len(plan.unchanged), rejected=list(plan.rejected))
    changes = plan.creates + plan.updates
    created_ids = {c.entity["id"] for c in plan.creates}
    for start in range(0, len(changes), batch_size):
        batch = changes[start : start + batch_size]
        for ok in await _write(client, dest, batch, summary):
            if ok.entity["id"] in created_ids:
                summary.created += 1
            else:
                summary.updated += 1
        if progress:
            progress(len(batch))
    return summary


async def _write(client: NgsiClient, dest: Destination, batch: list[Change], summary: Summary) -> list[Change]:
    try:
        await client.batch_update(dest, [c.entity for c in batch], "append")
        return batch
    except BrokerError as e:
        if e.transient:
            raise
        if len(batch) == 1:
            summary.rejected.append(
                Rejection(batch[0].label, f"the broker refused entity {batch[0].entity['id']}: {e.body}")
            )
            return []
    done: list[Change] = []
    for change in batch:
        done += await _write(client, dest, [change], summary)
    return done


async def run_import(
    session: aiohttp.ClientSession,
    dest: Destination,
    mapping: Mapping,
    dataset: Dataset,
    dry_run: bool = False,
    progress: Progress | None = None,
    writing: Callable[[int], Progress | None] | None = None,
) -> tuple[Plan, Summary]:
    """Plan, then (unless `dry_run`) apply; `writing(n)` may return a progress callback for the n writes."""
    client = NgsiClient(session)
    plan = await plan_import(client, dest, mapping, dataset, progress)
    if dry_run:
        return plan, Summary(len(plan.creates), len(plan.updates), len(plan.unchanged), list(plan.rejected))
    write_progress = writing(len(plan.creates) + len(plan.updates)) if writing else None
    return plan, await apply_plan(client, dest, plan, progress=write_progress)
