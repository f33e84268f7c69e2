"""The access log's hash chain, pure: what a seal covers and what verification catches."""

from __future__ import annotations

import hashlib

import orjson

from broker.personal import access_log


def _record(i: int) -> dict:
    return access_log.disclosure(
        time=float(i),
        tenant="t",
        recipient="svc",
        subject="alice",
        entity_id=f"E{i}",
        entity_type="T",
        attrs=["b", "a"],
        consents=("c1",),
        channel="query",
        correlator="x",
    )


def _chain(n: int) -> tuple[list[dict], tuple[int, str]]:
    prev, out = "", []
    for i in range(n):
        record = dict(_record(i), prev=prev)
        record["hash"] = access_log.seal(prev, record)
        record["seq"] = i + 1
        out.append(record)
        prev = record["hash"]
    return out, (n, prev)


def test_a_seal_covers_the_previous_hash_and_every_field_but_seq_and_hash():
    record = _record(1)
    expected = hashlib.sha256(orjson.dumps({**record, "prev": "p"}, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert access_log.seal("p", record) == expected
    assert access_log.seal("p", {**record, "prev": "p"}) == expected  # the append's own shape
    assert access_log.seal("p", {**record, "prev": "p", "seq": 9, "hash": "h"}) == expected  # a stored record
    assert access_log.seal("p", {**record, "prev": "other"}) == expected  # the prev given wins
    assert access_log.seal("q", record) != expected


def test_verification_finds_the_first_altered_reordered_or_missing_record():
    records, head = _chain(4)
    assert access_log.verify(records, head) == {"valid": True, "records": 4, "firstInvalid": None}
    altered = [*records[:2], dict(records[2], attrs=["a", "b", "c"]), records[3]]
    assert access_log.verify(altered, head)["firstInvalid"] == 2
    swapped = [records[0], records[2], records[1], records[3]]
    assert access_log.verify(swapped, head)["firstInvalid"] == 1
    assert access_log.verify(records[:3], head)["firstInvalid"] == 3  # the last one dropped: the head says 4


def test_link_chains_records_in_place_from_the_given_hash_and_returns_the_new_head():
    records = [_record(i) for i in range(3)]
    last = access_log.link("p0", records)
    assert [r["prev"] for r in records] == ["p0", records[0]["hash"], records[1]["hash"]]
    assert last == records[-1]["hash"]
    for seq, record in enumerate(records, start=1):
        record["seq"] = seq
    assert access_log.verify(records, (3, last))["valid"] is False  # it starts after p0, not at the start
    fresh = [_record(i) for i in range(3)]
    head = (3, access_log.link("", fresh))
    assert access_log.verify([{**r, "seq": i + 1} for i, r in enumerate(fresh)], head)["valid"] is True
