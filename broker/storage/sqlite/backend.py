"""`Storage` on SQLite: a thin facade over one file's roles.

Reads run on a small pool of read-only connections and writes are group-committed by one
writer thread (`engine`); the access log is appended by a process of its own (`log_store`).
Each role of the port is a small class over the shared `SqliteEngine`; this class only
composes them.
"""

from __future__ import annotations

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
        self.query_entities = entities.query_entities
        self.write_batch = entities.write_batch
        self.insert_entity = entities.insert_entity
        self.replace_entity = entities.replace_entity
        self.delete_entity = entities.delete_entity
        self.delete_expired = entities.delete_expired
        self.list_types = entities.list_types
        self.get_type = entities.get_type

        self.subscriptions = subscriptions = SqliteSubscriptions(engine)
        self.save_subscription = subscriptions.save_subscription
        self.delete_subscription = subscriptions.delete_subscription
        self.load_subscriptions = subscriptions.load_subscriptions
        self.save_delivery = subscriptions.save_delivery
        self.get_delivery = subscriptions.get_delivery
        self.subscriptions_version = subscriptions.subscriptions_version
        self.due_subscriptions = subscriptions.due_subscriptions
        self.pending_for = subscriptions.pending_for
        self.finish_notifications = subscriptions.finish_notifications
        self.retry_notification = subscriptions.retry_notification
        self.drop_notifications_of = subscriptions.drop_notifications_of

        self.leases = leases = SqliteLeases(engine)
        self.claim_lease = leases.claim_lease
        self.renew_lease = leases.renew_lease
        self.release_lease = leases.release_lease
        self.open_throttle_window = leases.open_throttle_window

        self.registrations = registrations = SqliteRegistrations(engine)
        self.save_registration = registrations.save_registration
        self.get_registration = registrations.get_registration
        self.find_registrations = registrations.find_registrations
        self.delete_registration = registrations.delete_registration

        self.personal = personal = SqlitePersonal(engine)
        self.personal_types = personal.personal_types
        self.personal_state = personal.personal_state
        self.put_personal_type = personal.put_personal_type
        self.delete_personal_type = personal.delete_personal_type
        self.save_consent = personal.save_consent
        self.get_consent = personal.get_consent
        self.find_consents = personal.find_consents

        self.access_log = access_log = SqliteAccessLog(engine)
        self._access_log = access_log.writer
        self.append_access_log_serially = access_log.append_access_log_serially
        self.read_access_log = access_log.read_access_log
        self.access_log_index_faults = access_log.access_log_index_faults
        self.access_log_head = access_log.access_log_head

        self.setting = SqliteSettings(engine).setting

    async def start(self) -> None:
        await self.engine.start()

    async def close(self) -> None:
        await self.access_log.close()  # commits what was handed over before the file closes
        await self.engine.close()
