"""`Storage` on SQLite: a thin facade over one file's roles.

Reads run on a small pool of read-only connections and writes are group-committed by one
writer thread (`engine`); the access log is appended by a process of its own (`log_store`).
Each role of the port is a small class over the shared `SqliteEngine`; this class only
composes them.
"""

from __future__ import annotations

from broker.storage.facade import expose
from broker.storage.port import (
    ConsentStore,
    EntityStore,
    LeaseStore,
    PersonalTypeStore,
    RegistrationStore,
    SerialAccessLog,
    SettingsStore,
    SubscriptionStore,
)
from broker.storage.sqlite.engine import SqliteEngine
from broker.storage.sqlite.entities import SqliteEntities
from broker.storage.sqlite.leases import SqliteLeases
from broker.storage.sqlite.log_store import SqliteAccessLog
from broker.storage.sqlite.personal import SqlitePersonal
from broker.storage.sqlite.registry import SqliteRegistrations
from broker.storage.sqlite.settings import SqliteSettings
from broker.storage.sqlite.subscriptions import SqliteSubscriptions


class SqliteStorage:
    def __init__(self, path: str, *, readers: int = 4) -> None:
        self.path = path
        self.engine = engine = SqliteEngine(path, readers=readers)
        self._read = engine.read  # for tests and tools that look at the file directly
        self._write = engine.write
        self._writer = engine.writer

        self.entities = entities = SqliteEntities(engine)
        expose(self, entities, EntityStore)

        self.subscriptions = subscriptions = SqliteSubscriptions(engine)
        expose(self, subscriptions, SubscriptionStore)

        self.leases = leases = SqliteLeases(engine)
        expose(self, leases, LeaseStore)

        self.registrations = registrations = SqliteRegistrations(engine)
        expose(self, registrations, RegistrationStore)

        self.personal = personal = SqlitePersonal(engine)
        expose(self, personal, PersonalTypeStore, ConsentStore)

        self.access_log = access_log = SqliteAccessLog(engine)
        self._access_log = access_log.writer
        expose(self, access_log, SerialAccessLog)

        expose(self, SqliteSettings(engine), SettingsStore)

    async def start(self) -> None:
        await self.engine.start()

    async def close(self) -> None:
        await self.access_log.close()  # commits what was handed over before the file closes
        await self.engine.close()
