"""The access log's records and its hash chain, pure: the one place the chain rule lives.

Each record holds `prev`, the hash of the record before it (per tenant), and `hash`, the SHA-256
of `prev` and its own canonical JSON. Altering, deleting or reordering a record breaks the chain
at that record; dropping records at the end is caught by the head (count and last hash) that the
store keeps apart from the records. No attribute value is ever part of a record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import orjson

CHANNELS = ("query", "notification", "export", "erasure")


def disclosure(
    *,
    time: float,
    tenant: str,
    recipient: str,
    subject: str,
    entity_id: str | None,
    entity_type: str | None,
    attrs: list[str],
    consents: tuple[str, ...],
    channel: str,
    correlator: str,
) -> dict[str, Any]:
    return {
        "time": time,
        "tenant": tenant,
        "recipient": recipient,
        "subject": subject,
        "entityId": entity_id,
        "entityType": entity_type,
        "attrs": sorted(attrs),
        "consent": consents[0] if consents else None,
        "consents": list(consents),
        "channel": channel,
        "correlator": correlator,
    }


def seal(prev: str, record: dict[str, Any]) -> str:
    """The record's hash: over the previous hash and every field but `seq` and `hash`."""
    if "seq" in record or "hash" in record or record.get("prev") != prev:
        record = {k: v for k, v in record.items() if k not in ("seq", "hash")}
        record["prev"] = prev
    # else: a record being appended, already holding its `prev` (no copy on the hot path)
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


def link(prev: str, records: list[dict[str, Any]]) -> str:
    """Chain `records` after the hash `prev`, in place and in order: each gets `prev` and `hash`
    (its seal). The last hash, the chain's new head. Stores number the records (`seq`) themselves."""
    for record in records:
        record["prev"] = prev
        record["hash"] = prev = seal(prev, record)
    return prev


def verify(records: list[dict[str, Any]], head: tuple[int, str], faults: Collection[int] = ()) -> dict[str, Any]:
    """`{"valid", "records", "firstInvalid"}` for a tenant's records in append order; `faults`
    are the seqs the store found misfiled (a filtered view could miss them)."""
    prev = ""
    for index, record in enumerate(records):
        if record.get("prev") != prev or seal(prev, record) != record.get("hash") or record.get("seq") in faults:
            return {"valid": False, "records": len(records), "firstInvalid": index}
        prev = record["hash"]
    count, last = head
    if count != len(records) or last != prev:
        return {"valid": False, "records": len(records), "firstInvalid": min(count, len(records))}
    return {"valid": True, "records": len(records), "firstInvalid": None}
