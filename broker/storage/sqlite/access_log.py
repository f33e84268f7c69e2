"""The access log on SQLite: records packed by append, sealed in few statements, indexed in batches.

Reads log one record per personal entity they show, so appends are the hot path. Three choices
keep them cheap:

- Appends run in a process of their own (`log_writer_process`), outside the serving process's
  GIL, and each of its transactions takes every append that has arrived, with a handful of
  statements: each commit writes WAL frames, fsyncs and makes every reader connection drop its
  page cache.
- The records are linked (`broker.personal.access_log.link`, the chain's one rule) in the
  transaction that appends them, after the tenant's head as that transaction reads it: appends
  are serial per file, so the head cannot move under it (the port's `SerialAccessLog`).
- The records of one append (one answer's disclosures) are stored in one row, a *pack*
  (`pack`/`unpack`): the fields all of them share (time, recipient, channel, correlator...) once,
  the others as one JSON array per record, and each record's `prev` not at all, since it is the
  hash of the record before it. A page of 20 entities writes one row of about 3 KB instead of 20
  rows of 480 bytes and their 20 index entries.
  The seal is computed over each whole record, as before: packing changes how records are kept,
  not what is chained, and a record altered, dropped or moved inside a pack breaks the chain there.
- The index by subject is not updated row by row. Each record's subject lands on a random page of
  such an index, so a commit of 20 records wrote some 20 index pages to the WAL. Instead, once
  `FOLD_ROWS` records are past the indexed mark, they are folded into `access_log_subjects` as a
  new segment in subject order (few pages, each written once: `fold`), and a read by subject
  takes the indexed packs from the segments and scans only the packs after the mark. The index
  names packs, not records: each pack lists its distinct subjects (`subjects`), so a subject
  with several entities on one page is indexed once for it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from broker.ngsi.selection import Page

Batch = tuple[str, list[dict[str, Any]]]  # tenant, records
# the chain's one rule (broker.personal.access_log.link): links records after `prev` in place and
# returns the new last hash; handed in by the process that appends (broker/runtime/log_writer.py)
Link = Callable[[str, list[dict[str, Any]]], str]

FOLD_ROWS = 8192  # unindexed records that trigger a fold into the subject index
ROWS_PER_INSERT = 100  # packs of one multi-row INSERT (6 parameters each, well under SQLite's limit)
INDEXED_KEY = "access_log_indexed"  # meta: every pack with last <= this is in access_log_subjects
_DERIVED = ("prev", "seq")  # kept by the pack's layout, not in its records

DDL = """
CREATE TABLE IF NOT EXISTS access_log_packs(  -- append-only, hash-chained per tenant; records of one append
  last INTEGER PRIMARY KEY,                  -- seq of the pack's last record
  first INTEGER NOT NULL,                    -- seq of its first
  tenant TEXT NOT NULL,
  recipient TEXT,                            -- of every record in the pack
  doc TEXT NOT NULL,                         -- {"prev", "keys", "common", "own", "at", "rows"}: pack()
  subjects TEXT                              -- JSON array: the records' distinct string subjects, sorted
);
CREATE INDEX IF NOT EXISTS access_log_packs_by_recipient ON access_log_packs(tenant, recipient, last);
CREATE TABLE IF NOT EXISTS access_log_subjects(  -- by subject: one sorted segment per fold()
  segment INTEGER NOT NULL,                  -- the mark the fold started from
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  pack INTEGER NOT NULL,                     -- the `last` of a pack holding records of the subject
  PRIMARY KEY(segment, tenant, subject, pack)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log_segments(segment INTEGER PRIMARY KEY);
"""


def head_key(tenant: str) -> str:
    return f"access_log_head:{tenant}"


# -- packs, pure ---------------------------------------------------------------------------------
def _same(column: tuple[Any, ...]) -> bool:
    """Every value equal to the first and of its type (1 == 1.0 == True for Python, not for a hash)."""
    first = column[0]
    if column.count(first) != len(column):
        return False
    if first is None or type(first) is str:  # nothing else compares equal to these
        return True
    if type(first) is list and all(type(x) is str for x in first):
        return True
    kind = type(first)
    return all(type(x) is kind for x in column)


def pack(prev: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sealed records with the same fields (each with `prev`, `hash`, `seq`, in chain order) as one
    document: `common` holds the fields every record has alike; each row holds the others, in the
    order of `own`; `at` says where `subject` and `time` are in a row when they are not common."""
    keys = list(records[0])
    fields = [k for k in keys if k not in _DERIVED]
    get = itemgetter(*fields)
    columns = list(zip(*map(get, records))) if len(fields) > 1 else [tuple(map(get, records))]
    shared = [k != "hash" and _same(col) for k, col in zip(fields, columns)]
    own = [k for k, common in zip(fields, shared) if not common]
    return {
        "prev": prev,
        "keys": keys,
        "common": {k: col[0] for k, col, common in zip(fields, columns, shared) if common},
        "own": own,
        "at": {k: own.index(k) for k in ("subject", "time") if k in own},
        "rows": list(zip(*[col for col, common in zip(columns, shared) if not common])),
    }


def unpack(doc: dict[str, Any], first_seq: int, index: int) -> dict[str, Any]:
    """Record `index` of a pack, whole again: its fields in the order they were appended."""
    own, rows = doc["own"], doc["rows"]
    whole = {**doc["common"], **dict(zip(own, rows[index]))}
    whole["prev"] = doc["prev"] if index == 0 else rows[index - 1][own.index("hash")]
    whole["seq"] = first_seq + index
    return {k: whole[k] for k in doc["keys"]}


def _runs(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive records with the same recipient and fields: each makes one pack."""
    if not records:
        return []
    recipient, keys = records[0].get("recipient"), records[0].keys()
    if all(r.get("recipient") == recipient and r.keys() == keys for r in records):
        return [records]  # the usual case: one answer's disclosures
    runs: list[list[dict[str, Any]]] = []
    for record in records:
        last = runs[-1][0] if runs else None
        if last is not None and last.get("recipient") == record.get("recipient") and last.keys() == record.keys():
            runs[-1].append(record)
        else:
            runs.append([record])
    return runs


def _subjects(records: list[dict[str, Any]]) -> str:
    """The `subjects` column of a pack of these records."""
    return orjson.dumps(sorted({s for r in records if type(s := r.get("subject")) is str})).decode()


def _field(doc: dict[str, Any], row: Any, name: str) -> Any:
    """A record's field without unpacking it: the pack's common value, or the one in its row."""
    at = doc["at"].get(name)
    return doc["common"].get(name) if at is None else row[at]


def _records(first: int, doc: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], int, Any]]:
    """(seq, pack, index, row) of each record of a pack."""
    for index, row in enumerate(doc["rows"]):
        yield first + index, doc, index, row


# -- statements ----------------------------------------------------------------------------------
def _batches(conn: sqlite3.Connection, select: str) -> Iterator[list[Any]]:
    """The rows of `select` a batch at a time; it takes the first column's last value seen and
    orders and limits by that column."""
    after = 0
    while rows := conn.execute(select, (after,)).fetchall():
        yield rows
        after = rows[-1][0]


def migrate(conn: sqlite3.Connection) -> None:
    """Older stores are brought to this layout once, at start. Before packs, the log held a row
    per record: its records become packs of one. Packs made before the `subjects` column gain
    it, read from their records. An index that names records (in segments or, before those, one
    index over everything) is dropped, and every pack is folded again."""
    index = {row[1] for row in conn.execute("PRAGMA table_info(access_log_subjects)")}
    if index and "pack" not in index:  # an index of records (in segments or not): made again
        conn.execute("DROP TABLE access_log_subjects")
        conn.execute("DROP TABLE IF EXISTS access_log_segments")
        conn.execute("DELETE FROM meta WHERE key = ?", (INDEXED_KEY,))
    conn.executescript(DDL)
    if "subjects" not in {row[1] for row in conn.execute("PRAGMA table_info(access_log_packs)")}:
        conn.execute("ALTER TABLE access_log_packs ADD COLUMN subjects TEXT")
        for rows in _batches(conn, "SELECT last, doc FROM access_log_packs WHERE last > ? ORDER BY last LIMIT 10000"):
            for last, text in rows:
                doc = orjson.loads(text)
                records = [{"subject": _field(doc, row, "subject")} for row in doc["rows"]]
                conn.execute("UPDATE access_log_packs SET subjects = ? WHERE last = ?", (_subjects(records), last))
    old = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access_log'").fetchone()
    if old is not None:
        select = "SELECT seq, tenant, recipient, doc FROM access_log WHERE seq > ? ORDER BY seq LIMIT 10000"
        for rows in _batches(conn, select):
            for seq, tenant, recipient, doc in rows:
                record = orjson.loads(doc)
                conn.execute(
                    "INSERT OR IGNORE INTO access_log_packs(last, first, tenant, recipient, doc, subjects)"
                    " VALUES(?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        seq,
                        tenant,
                        recipient,
                        orjson.dumps(pack(record.get("prev", ""), [record])).decode(),
                        _subjects([record]),
                    ),
                )
        conn.execute("DROP TABLE access_log")  # its indexes go with it
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (INDEXED_KEY,)).fetchone() is None:
        fold(conn, 0)


def fold(conn: sqlite3.Connection, indexed: int) -> None:
    """Index the subjects of every pack after `indexed` as a new segment, and move the mark.

    A segment is sorted by subject and keyed by its own number first, so a fold appends its rows
    at the end of the index: it writes the few pages they fill, however large the index is. (Into
    one index sorted by subject, each row would land on another page, and a fold would rewrite
    nearly every page of it.) A read by subject takes one short range per segment.

    The fold is one statement over the packs' `subjects`, run by SQLite without the GIL. Done in
    Python (parsing every pack, one index row per record) it held the GIL for some 25 ms every
    8,192 records, and each row insert gave it up and took it back, a wait behind the event loop
    each time."""
    last = conn.execute("SELECT max(last) FROM access_log_packs").fetchone()[0] or indexed
    conn.execute(
        "INSERT OR IGNORE INTO access_log_subjects(segment, tenant, subject, pack)"
        " SELECT ?1, p.tenant, s.value, p.last FROM access_log_packs p, json_each(p.subjects) s"
        " WHERE p.last > ?1 ORDER BY 2, 3, 4",
        (indexed,),
    )
    conn.execute("INSERT OR IGNORE INTO access_log_segments(segment) VALUES(?)", (indexed,))
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (INDEXED_KEY, str(last)),
    )


def append(conn: sqlite3.Connection, batches: list[Batch], link: Link) -> None:
    """Link and insert the batches' records in order, each tenant's chain continuing from its head."""
    keys = sorted({head_key(tenant) for tenant, _ in batches})
    heads: dict[str, tuple[int, str]] = {key: (0, "") for key in keys}
    last, indexed = 0, 0
    for key, value in conn.execute(
        "SELECT NULL, max(last) FROM access_log_packs UNION ALL SELECT key, value FROM meta"
        f" WHERE key IN ({','.join('?' * (len(keys) + 1))})",
        [INDEXED_KEY, *keys],
    ).fetchall():
        if key is None:
            last = value or 0
        elif key == INDEXED_KEY:
            indexed = int(value)
        else:
            count, prev = orjson.loads(value)
            heads[key] = (count, prev)
    rows: list[tuple[Any, ...]] = []
    for tenant, records in batches:
        key = head_key(tenant)
        count, prev = heads[key]
        for run in _runs(records):
            first, first_prev = last + 1, prev
            prev = link(prev, run)  # the records are the log's once handed over: completed in place
            for record in run:
                last += 1
                record["seq"] = last
            count += len(run)
            doc = orjson.dumps(pack(first_prev, run)).decode()
            rows.append((last, first, tenant, run[0].get("recipient"), doc, _subjects(run)))
        heads[key] = (count, prev)
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        conn.execute(
            "INSERT INTO access_log_packs(last, first, tenant, recipient, doc, subjects) VALUES "
            + ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)),
            [value for row in chunk for value in row],
        )
    conn.execute(
        "INSERT INTO meta(key, value) VALUES "
        + ",".join(["(?, ?)"] * len(keys))
        + " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [v for key in keys for v in (key, orjson.dumps(list(heads[key])).decode())],
    )
    if last - indexed >= FOLD_ROWS:
        fold(conn, indexed)


def read(
    conn: sqlite3.Connection,
    tenant: str,
    subject: str | None,
    recipient: str | None,
    since: float | None,
    until: float | None,
    page: Page | None,
) -> tuple[list[dict[str, Any]], int]:
    """A tenant's matching records in append order (one page, or all), and how many match; by
    subject through the index and the packs after its mark. Only the page's records are unpacked."""
    where, params = "p.tenant = ?", [tenant]
    if recipient is not None:
        where, params = where + " AND p.recipient = ?", params + [recipient]
    if subject is None:
        found = _scan(conn, where, params)
    else:
        found = _by_subject(conn, subject, where, params)
    start = page.offset if page is not None else 0
    stop = start + page.limit if page is not None else None
    chosen: list[dict[str, Any]] = []
    total = 0
    for seq, doc, index, row in found:
        if subject is not None and _field(doc, row, "subject") != subject:
            continue
        if since is not None or until is not None:
            at = _field(doc, row, "time")
            if at is None or (since is not None and at < since) or (until is not None and at >= until):
                continue
        if start <= total and (stop is None or total < stop):
            chosen.append(unpack(doc, seq - index, index))
        total += 1
    return chosen, total


def index_faults(conn: sqlite3.Connection, tenant: str) -> set[int]:
    """Seqs of the tenant's records that a view could miss because a column it relies on disagrees
    with the sealed record: a pack's `recipient` (the recipient view), its `tenant`, its `subjects`
    and the subject index rows of the indexed packs (the subject view). The chain cannot see these:
    they are outside what is sealed."""
    faults: set[int] = set()
    for first, recipient, subjects, text in conn.execute(
        "SELECT first, recipient, subjects, doc FROM access_log_packs WHERE tenant = ? ORDER BY last", (tenant,)
    ):
        doc = orjson.loads(text)
        records = [unpack(doc, first, index) for index in range(len(doc["rows"]))]
        if subjects != _subjects(records) or any(
            r.get("recipient") != recipient or r.get("tenant", tenant) != tenant for r in records
        ):
            faults.update(range(first, first + len(records)))
    mark_row = conn.execute("SELECT value FROM meta WHERE key = ?", (INDEXED_KEY,)).fetchone()
    for first, last in conn.execute(
        "SELECT p.first, p.last FROM access_log_packs p, json_each(p.subjects) s WHERE p.tenant = ?1 AND p.last <= ?2"
        " AND NOT EXISTS (SELECT 1 FROM access_log_segments g CROSS JOIN access_log_subjects x"
        " WHERE x.segment = g.segment AND x.tenant = ?1 AND x.subject = s.value AND x.pack = p.last)",
        (tenant, int(mark_row[0]) if mark_row else 0),
    ):
        faults.update(range(first, last + 1))
    return faults


def _scan(conn: sqlite3.Connection, where: str, params: list[Any]) -> Iterator[tuple[int, dict[str, Any], int, Any]]:
    """Every record of the packs matching `where` (on the packs as `p`), in order."""
    for first, text in conn.execute(
        f"SELECT p.first, p.doc FROM access_log_packs p WHERE {where} ORDER BY p.last", params
    ):
        yield from _records(first, orjson.loads(text))


def _by_subject(
    conn: sqlite3.Connection, subject: str, where: str, params: list[Any]
) -> Iterator[tuple[int, dict[str, Any], int, Any]]:
    """Every record of the indexed packs naming the subject, then of the packs after the mark
    (the caller keeps the subject's own). The joins are written in the order they must run
    (segments, their range for the subject, each pack by its key), which is also pack order."""
    mark_row = conn.execute("SELECT value FROM meta WHERE key = ?", (INDEXED_KEY,)).fetchone()
    mark = int(mark_row[0]) if mark_row else 0
    tenant = params[0]
    for first, text in conn.execute(
        "SELECT p.first, p.doc FROM access_log_segments g CROSS JOIN access_log_subjects s"
        " CROSS JOIN access_log_packs p WHERE s.segment = g.segment AND s.tenant = ? AND s.subject = ?"
        f" AND s.pack <= ? AND p.last = s.pack AND {where} ORDER BY g.segment, s.pack",
        [tenant, subject, mark, *params],
    ):
        yield from _records(first, orjson.loads(text))
    yield from _scan(conn, f"{where} AND p.last > ?", [*params, mark])
