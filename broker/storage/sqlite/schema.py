"""Tables and indexes of the embedded store. Tenants share tables and are isolated by a column."""

from __future__ import annotations

import sqlite3

from broker.storage.sqlite import access_log, subjects
from broker.storage.sqlite.connection import open_connection

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities(
  pk INTEGER PRIMARY KEY AUTOINCREMENT,      -- creation order, the default sort
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  service_path TEXT NOT NULL,
  cre_date REAL NOT NULL,
  mod_date REAL NOT NULL,
  version INTEGER NOT NULL,
  attrs TEXT NOT NULL,                       -- JSON, Orion's attrs sub-document
  subject TEXT,                              -- the data subject, for personal types (subjects.py)
  UNIQUE(tenant, id, type, service_path)
);
CREATE INDEX IF NOT EXISTS entities_by_type ON entities(tenant, type, pk);
CREATE INDEX IF NOT EXISTS entities_by_path ON entities(tenant, service_path, pk);
CREATE INDEX IF NOT EXISTS entities_by_id ON entities(tenant, id);
CREATE INDEX IF NOT EXISTS entities_by_cre_date ON entities(tenant, cre_date);
CREATE INDEX IF NOT EXISTS entities_by_mod_date ON entities(tenant, mod_date);
CREATE TABLE IF NOT EXISTS attributes(         -- one row per attribute: types and indexed q filters
  entity_pk INTEGER NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  kind TEXT NOT NULL,                        -- n number/date, s string, b boolean, z null, o object, a array
  num REAL,
  str TEXT,
  bool INTEGER,
  PRIMARY KEY(entity_pk, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attributes_by_num ON attributes(name, num) WHERE num IS NOT NULL;
CREATE INDEX IF NOT EXISTS attributes_by_str ON attributes(name, str) WHERE str IS NOT NULL;
CREATE INDEX IF NOT EXISTS attributes_by_kind ON attributes(name, kind);
CREATE TABLE IF NOT EXISTS geometries(         -- the entity's location attribute, as GeoJSON
  entity_pk INTEGER PRIMARY KEY,
  attr TEXT NOT NULL,
  geojson TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS locations USING rtree(id, minx, maxx, miny, maxy);
CREATE TABLE IF NOT EXISTS subscriptions(
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  doc TEXT NOT NULL,                         -- broker.storage.subscription_codec document
  delivery TEXT NOT NULL DEFAULT '{}',       -- counters: timesSent, lastSuccess, ...
  PRIMARY KEY(tenant, id)
);
CREATE TABLE IF NOT EXISTS outbox(             -- notifications owed, written with the change itself
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  created REAL NOT NULL,
  due REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  cbnotif INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS registrations(      -- context providers (/v2/registrations)
  pk INTEGER PRIMARY KEY AUTOINCREMENT,      -- creation order, the listing order
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  doc TEXT NOT NULL,                         -- broker.storage.registration_codec document
  UNIQUE(tenant, id)
);
CREATE TABLE IF NOT EXISTS personal_types(
  tenant TEXT NOT NULL,
  type TEXT NOT NULL,
  subject_attr TEXT NOT NULL,
  PRIMARY KEY(tenant, type)
);
CREATE TABLE IF NOT EXISTS consents(
  pk INTEGER PRIMARY KEY AUTOINCREMENT,      -- creation order
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  subject TEXT NOT NULL,
  recipient TEXT NOT NULL,
  expires REAL,
  withdrawn REAL,
  doc TEXT NOT NULL,                         -- broker.storage.consent_codec document
  UNIQUE(tenant, id)
);
CREATE INDEX IF NOT EXISTS consents_by_recipient ON consents(tenant, recipient, pk);
CREATE INDEX IF NOT EXISTS consents_by_subject ON consents(tenant, subject, pk);
CREATE TABLE IF NOT EXISTS leases(             -- which process drains what, until when (several deliverers)
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  token TEXT NOT NULL,
  expires REAL NOT NULL
);
"""


def _add_column(conn: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    """Stores made by an older broker gain the column; newer ones have it already."""
    if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's settings and the SQL functions that queries use."""
    from broker.storage.sqlite import functions  # shapely: not for the supervisor's migration (`migrate`)

    conn = open_connection(path, readonly=readonly)
    functions.install(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    conn.executescript(DDL)
    _add_column(conn, "outbox", "subject", "TEXT")
    _add_column(conn, "subscriptions", "throttled", "REAL")  # start of the throttling window, any process
    conn.execute("CREATE INDEX IF NOT EXISTS outbox_by_subject ON outbox(tenant, subject) WHERE subject IS NOT NULL")
    # the delivering process keeps this index in memory (outbox_index): each notifying write
    # no longer updates it at one place per matched subscription
    conn.execute("DROP INDEX IF EXISTS outbox_by_subscription")
    access_log.migrate(conn)
    subjects.migrate(conn)
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))
