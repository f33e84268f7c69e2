"""`Storage` on MongoDB (PyMongo's async API), in Orion's database layout: a thin facade.

Database `orion` (`orion-<tenant>` per tenant) with Orion's `entities`, `csubs` and
`registrations`; what Orion lacks lives in prefixed collections: `ab_outbox` (notifications
owed), `ab_counters` (creation sequence, outbox ids, versions, access-log heads), `ab_leases`,
`ab_settings`, and per tenant `ab_personal_types`, `ab_consents`, `ab_access_log`.

Each role of the port is a small class of its own over one shared `MongoConnection`; this class
only composes them, so that a reader finds each concern in its module and the whole `Storage`
in one object.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from broker.storage.mongo.access_log import MongoAccessLog
from broker.storage.mongo.connection import MongoConnection
from broker.storage.mongo.entities import MongoEntities
from broker.storage.mongo.leases import MongoLeases
from broker.storage.mongo.personal import MongoPersonal
from broker.storage.mongo.registry import MongoRegistrations
from broker.storage.mongo.settings import MongoSettings
from broker.storage.mongo.subscriptions import MongoSubscriptions


class MongoStorage:
    def __init__(
        self,
        uri: str,
        *,
        db: str = "orion",
        write_concern: int = 1,
        pool_size: int = 10,
        timeout_ms: int = 10000,
    ) -> None:
        self.conn = conn = MongoConnection(
            uri, db=db, write_concern=write_concern, pool_size=pool_size, timeout_ms=timeout_ms
        )
        self.start = conn.start
        self.close = conn.close
        self.database = conn.database

        self.entities = entities = MongoEntities(conn)
        self.query_entities = entities.query_entities
        self.write_batch = entities.write_batch
        self.insert_entity = entities.insert_entity
        self.replace_entity = entities.replace_entity
        self.delete_entity = entities.delete_entity
        self.delete_expired = entities.delete_expired
        self.list_types = entities.list_types
        self.get_type = entities.get_type

        self.subscriptions = subscriptions = MongoSubscriptions(conn)
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

        self.leases = leases = MongoLeases(conn)
        self.claim_lease = leases.claim_lease
        self.renew_lease = leases.renew_lease
        self.release_lease = leases.release_lease
        self.open_throttle_window = leases.open_throttle_window

        self.registrations = registrations = MongoRegistrations(conn)
        self.save_registration = registrations.save_registration
        self.get_registration = registrations.get_registration
        self.find_registrations = registrations.find_registrations
        self.delete_registration = registrations.delete_registration

        self.personal = personal = MongoPersonal(conn)
        self.personal_types = personal.personal_types
        self.personal_state = personal.personal_state
        self.put_personal_type = personal.put_personal_type
        self.delete_personal_type = personal.delete_personal_type
        self.save_consent = personal.save_consent
        self.get_consent = personal.get_consent
        self.find_consents = personal.find_consents

        self.access_log = access_log = MongoAccessLog(conn)
        self.append_access_log_if = access_log.append_access_log_if
        self.read_access_log = access_log.read_access_log
        self.access_log_index_faults = access_log.access_log_index_faults
        self.access_log_head = access_log.access_log_head

        self.setting = MongoSettings(conn).setting

    # what the connection was made with, and what start() found out about the server
    @property
    def uri(self) -> str:
        return self.conn.uri

    @property
    def db(self) -> str:
        return self.conn.db

    @property
    def write_concern(self) -> int:
        return self.conn.write_concern

    @property
    def pool_size(self) -> int:
        return self.conn.pool_size

    @property
    def timeout_ms(self) -> int:
        return self.conn.timeout_ms

    @property
    def transactions(self) -> bool:
        return self.conn.transactions

    @property
    def geo_index(self) -> bool:
        return self.conn.geo_index

    @property
    def _client(self) -> AsyncMongoClient[dict[str, Any]] | None:
        return self.conn.client

    @property
    def _main(self) -> AsyncDatabase[dict[str, Any]]:
        return self.conn.main
