"""SQLite-specific: the access log's packs, its batched subject index and their migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from broker.ngsi.selection import Page
from broker.personal import access_log
from broker.personal.access_log_append import append
from broker.storage.sqlite import SqliteStorage
from broker.storage.sqlite import access_log as sqlite_log
from broker.storage.sqlite.connection import open_connection as connect
from tests.access_log_records import record as _record


async def _indexed(store: SqliteStorage) -> tuple[int, int]:
    """(the indexed mark, rows in the subject index)."""

    def run(conn: sqlite3.Connection) -> tuple[int, int]:
        mark = conn.execute("SELECT value FROM meta WHERE key = ?", (sqlite_log.INDEXED_KEY,)).fetchone()[0]
        return int(mark), conn.execute("SELECT count(*) FROM access_log_subjects").fetchone()[0]

    return await store._read(run)


async def _count(store: SqliteStorage) -> int:
    """Records committed (without flushing what is held)."""
    return await store._read(
        lambda conn: conn.execute("SELECT coalesce(sum(last - first + 1), 0) FROM access_log_packs").fetchone()[0]
    )


def _sealed(records: list[dict], prev: str = "") -> list[dict]:
    out = []
    for seq, record in enumerate(records, start=1):
        record = dict(record, prev=prev)
        record["hash"] = prev = access_log.seal(prev, record)
        record["seq"] = seq
        out.append(record)
    return out


def test_a_pack_keeps_shared_fields_once_and_gives_back_every_record_whole():
    records = _sealed([_record(0, "alice"), _record(0, "bob"), {**_record(0, "carol"), "entityId": "E9"}], prev="p0")
    doc = sqlite_log.pack("p0", records)
    assert doc["common"]["recipient"] == "svc" and doc["common"]["time"] == 0.0
    assert doc["own"] == ["subject", "entityId", "hash"] and doc["at"] == {"subject": 0}
    again = [sqlite_log.unpack(orjson.loads(orjson.dumps(doc)), 1, i) for i in range(3)]
    assert again == records and [list(r) for r in again] == [list(r) for r in records]  # in appended order
    assert sqlite_log._runs(
        [_record(0, "a"), {**_record(0, "b"), "extra": 1}, {**_record(0, "c"), "recipient": "x"}]
    ) == [
        [_record(0, "a")],
        [{**_record(0, "b"), "extra": 1}],
        [{**_record(0, "c"), "recipient": "x"}],
    ]  # one kind of record a pack
    mixed = _sealed([{**_record(0, "a"), "n": n} for n in (1, 1.0, True)])  # equal for Python, not as JSON
    doc = orjson.loads(orjson.dumps(sqlite_log.pack("", mixed)))
    assert "n" in doc["own"] and [sqlite_log.unpack(doc, 1, i)["n"] for i in range(3)] == [1, 1.0, True]
    assert [type(sqlite_log.unpack(doc, 1, i)["n"]) for i in range(3)] == [int, float, bool]
    assert access_log.verify(again, (3, records[-1]["hash"]))["valid"] is False  # the chain starts at p0, not ""
    assert access_log.verify(_sealed([_record(1, "a")]), (1, _sealed([_record(1, "a")])[0]["hash"]))["valid"]


def test_a_fold_indexes_each_pack_once_under_each_string_subject_it_holds(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    conn.executescript(sqlite_log.DDL)
    answers = [
        ("t", [_record(1, "bob"), _record(2, "alice"), _record(3, "bob")]),  # subject in each row
        ("t", [_record(4, "carol"), _record(5, "carol")]),  # subject common to the pack
        ("u", [_record(6, "alice")]),  # another tenant
        ("t", [{**_record(7, "x"), "subject": None}, {**_record(8, "x"), "subject": ["bob"]}]),
    ]
    conn.execute("BEGIN")
    sqlite_log.append(conn, answers, access_log.link)
    sqlite_log.fold(conn, 0)
    conn.execute("COMMIT")
    packs = conn.execute("SELECT last, subjects FROM access_log_packs ORDER BY last").fetchall()
    assert packs == [(3, '["alice","bob"]'), (5, '["carol"]'), (6, '["alice"]'), (8, "[]")]
    rows = conn.execute("SELECT segment, tenant, subject, pack FROM access_log_subjects").fetchall()
    assert rows == [(0, "t", "alice", 3), (0, "t", "bob", 3), (0, "t", "carol", 5), (0, "u", "alice", 6)]
    assert conn.execute("SELECT value FROM meta WHERE key = ?", (sqlite_log.INDEXED_KEY,)).fetchone() == ("8",)
    sqlite_log.fold(conn, 8)  # nothing after the mark: an empty segment, the mark stays
    assert conn.execute("SELECT value FROM meta WHERE key = ?", (sqlite_log.INDEXED_KEY,)).fetchone() == ("8",)
    assert conn.execute("SELECT count(*) FROM access_log_subjects").fetchone() == (4,)


async def test_reads_by_subject_find_indexed_and_unindexed_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlite_log, "FOLD_ROWS", 10)  # in this process: appended here, as the log writer does
    path = str(tmp_path / "a.db")
    store = SqliteStorage(path)
    await store.start()
    conn = connect(path)
    try:
        subjects = ["alice", "bob", "carol"]
        for i in range(26):  # appends of 2 records: folded at 10, 20, ... 50; 2 left in the tail
            conn.execute("BEGIN IMMEDIATE")
            sqlite_log.append(
                conn, [("t", [_record(2 * i, subjects[i % 3]), _record(2 * i + 1, "bob")])], access_log.link
            )
            conn.execute("COMMIT")
        mark, rows = await _indexed(store)
        assert mark == 50 and rows == 25 * 2 - 8  # a row per pack and subject: 8 packs hold only bob
        segments = await store._read(lambda c: [r[0] for r in c.execute("SELECT segment FROM access_log_segments")])
        assert segments == [0, 10, 20, 30, 40]  # one per fold, each in subject order
        records, total = await store.read_access_log("t", subject="bob")
        expected = [r for r in range(1, 53) if r % 2 == 0 or ((r - 1) // 2) % 3 == 1]
        assert total == len(expected) and [r["seq"] for r in records] == expected
        assert all(r["subject"] == "bob" for r in records)
        page, total = await store.read_access_log("t", subject="alice", since=20.0, until=40.0)
        assert [r["entityId"] for r in page] == ["E24", "E30", "E36"] and total == 3
        assert (await store.read_access_log("other", subject="bob"))[1] == 0
        everything, _ = await store.read_access_log("t")
        assert access_log.verify(everything, await store.access_log_head("t"))["valid"] is True
    finally:
        conn.close()
        await store.close()


async def test_a_store_with_a_row_per_record_is_packed_and_folded_once_at_start(tmp_path: Path):
    path = str(tmp_path / "old.db")
    store = SqliteStorage(path)
    await store.start()
    await store.close()
    records = _sealed([_record(i, "alice" if i % 2 else "bob") for i in range(6)])
    conn = sqlite3.connect(path)  # as a broker before packs (and before the batched index) left it
    conn.execute("DROP TABLE access_log_packs")
    conn.execute("DROP TABLE access_log_subjects")  # one index over all records, as it was
    conn.execute("DROP TABLE access_log_segments")
    conn.execute(
        "CREATE TABLE access_log_subjects(tenant TEXT NOT NULL, subject TEXT NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY(tenant, subject, seq)) WITHOUT ROWID"
    )
    conn.executemany("INSERT INTO access_log_subjects VALUES('t', ?, ?)", [(r["subject"], r["seq"]) for r in records])
    conn.execute("UPDATE meta SET value = '6' WHERE key = ?", (sqlite_log.INDEXED_KEY,))
    conn.execute(
        "CREATE TABLE access_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, time REAL NOT NULL,"
        " subject TEXT, recipient TEXT, doc TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX access_log_by_subject ON access_log(tenant, subject, seq)")
    conn.executemany(
        "INSERT INTO access_log(seq, tenant, time, subject, recipient, doc) VALUES(?, 't', ?, ?, 'svc', ?)",
        [(r["seq"], r["time"], r["subject"], orjson.dumps(r).decode()) for r in records],
    )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, ?)",
        (sqlite_log.head_key("t"), orjson.dumps([6, records[-1]["hash"]]).decode()),
    )
    conn.commit()
    conn.close()

    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _indexed(store) == (6, 6)
        tables = await store._read(lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master")])
        assert "access_log" not in tables and "access_log_by_subject" not in tables
        found, total = await store.read_access_log("t", subject="alice")
        assert total == 3 and [r["entityId"] for r in found] == ["E1", "E3", "E5"]
        everything, _ = await store.read_access_log("t")
        assert everything == records
        assert access_log.verify(everything, await store.access_log_head("t"))["valid"] is True
        await append(store, "t", [_record(6, "alice")])  # the chain goes on
        everything, _ = await store.read_access_log("t")
        assert everything[-1]["seq"] == 7 and access_log.verify(everything, await store.access_log_head("t"))["valid"]
    finally:
        await store.close()


async def test_a_store_whose_index_names_records_gains_pack_subjects_and_is_folded_again(tmp_path: Path):
    path = str(tmp_path / "packs.db")
    store = SqliteStorage(path)
    await store.start()
    await append(store, "t", [_record(0, "alice"), _record(1, "bob"), _record(2, "alice")])
    await append(store, "t", [_record(3, "carol")])
    before, _ = await store.read_access_log("t")
    await store.close()
    conn = sqlite3.connect(path)  # as the broker of December 3 left it: no subjects, a row per record
    conn.execute("ALTER TABLE access_log_packs RENAME TO packs_now")
    conn.execute("DROP INDEX access_log_packs_by_recipient")
    conn.execute(
        "CREATE TABLE access_log_packs(last INTEGER PRIMARY KEY, first INTEGER NOT NULL, tenant TEXT NOT NULL,"
        " recipient TEXT, doc TEXT NOT NULL)"
    )
    conn.execute("INSERT INTO access_log_packs SELECT last, first, tenant, recipient, doc FROM packs_now")
    conn.execute("DROP TABLE packs_now")
    conn.execute("DROP TABLE access_log_subjects")
    conn.execute(
        "CREATE TABLE access_log_subjects(segment INTEGER NOT NULL, tenant TEXT NOT NULL, subject TEXT NOT NULL,"
        " seq INTEGER NOT NULL, PRIMARY KEY(segment, tenant, subject, seq)) WITHOUT ROWID"
    )
    conn.executemany(
        "INSERT INTO access_log_subjects VALUES(0, 't', ?, ?)", [("alice", 1), ("bob", 2), ("alice", 3), ("carol", 4)]
    )
    conn.execute("UPDATE meta SET value = '4' WHERE key = ?", (sqlite_log.INDEXED_KEY,))
    conn.commit()
    conn.close()

    store = SqliteStorage(path)
    await store.start()
    try:
        assert await _indexed(store) == (4, 3)  # alice and bob under the first pack, carol under the second
        alice, total = await store.read_access_log("t", subject="alice")
        assert total == 2 and [r["seq"] for r in alice] == [1, 3]
        assert (await store.read_access_log("t"))[0] == before
    finally:
        await store.close()


async def test_pages_of_the_log_cut_through_packs_and_filter_by_recipient_and_time(tmp_path: Path):
    store = SqliteStorage(str(tmp_path / "p.db"))
    await store.start()
    try:
        await append(store, "t", [_record(i, f"s{i % 3}") for i in range(5)])
        other = [{**_record(5 + i, "s1"), "recipient": "lab"} for i in range(2)] + [_record(7, "s1")]
        await append(store, "t", other)  # three packs: svc, lab, svc
        packs = await store._read(
            lambda c: c.execute("SELECT first, last, recipient FROM access_log_packs ORDER BY last").fetchall()
        )
        assert packs == [(1, 5, "svc"), (6, 7, "lab"), (8, 8, "svc")]
        page, total = await store.read_access_log("t", page=Page(limit=3, offset=3))
        assert [r["seq"] for r in page] == [4, 5, 6] and total == 8
        assert [r["prev"] for r in page] == [
            r["hash"] for r in (await store.read_access_log("t", page=Page(limit=3, offset=2)))[0]
        ]
        lab, total = await store.read_access_log("t", recipient="lab")
        assert [r["entityId"] for r in lab] == ["E5", "E6"] and total == 2
        svc_s1, total = await store.read_access_log("t", subject="s1", recipient="svc", since=1.0, until=8.0)
        assert [r["entityId"] for r in svc_s1] == ["E1", "E4", "E7"] and total == 3
    finally:
        await store.close()
