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

from broker.storage.admission import InFlightLimit
from broker.storage.facade import expose
from broker.storage.mongo.access_log import MongoAccessLog
from broker.storage.mongo.connection import MongoConnection
from broker.storage.mongo.entities import MongoEntities
from broker.storage.mongo.leases import MongoLeases
from broker.storage.mongo.personal import MongoPersonal
from broker.storage.mongo.registry import MongoRegistrations
from broker.storage.mongo.settings import MongoSettings
from broker.storage.mongo.subscriptions import MongoSubscriptions
from broker.storage.port import (
    ConditionalAccessLog,
    ConsentStore,
    EntityStore,
    LeaseStore,
    PersonalTypeStore,
    RegistrationStore,
    SettingsStore,
    SubscriptionStore,
)

# storage calls one process may have in flight per pooled connection (`-dbPoolSize`): beyond the
# pool's size they wait in PyMongo's queue (each at most `-dbTimeout`); beyond this, 503 at once
IN_FLIGHT_PER_CONNECTION = 32


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
        self.in_flight = InFlightLimit(pool_size * IN_FLIGHT_PER_CONNECTION)
        gate = self.in_flight.guard

        self.entities = entities = MongoEntities(conn)
        expose(self, entities, EntityStore, around=gate)

        self.subscriptions = subscriptions = MongoSubscriptions(conn)
        expose(self, subscriptions, SubscriptionStore, around=gate)

        self.leases = leases = MongoLeases(conn)
        expose(self, leases, LeaseStore, around=gate)

        self.registrations = registrations = MongoRegistrations(conn)
        expose(self, registrations, RegistrationStore, around=gate)

        self.personal = personal = MongoPersonal(conn)
        expose(self, personal, PersonalTypeStore, ConsentStore, around=gate)

        self.access_log = access_log = MongoAccessLog(conn)
        expose(self, access_log, ConditionalAccessLog, around=gate)

        expose(self, MongoSettings(conn), SettingsStore, around=gate)

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
