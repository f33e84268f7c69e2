"""Which backend the configuration selects: MongoDB with `-dbURI`, the embedded SQLite file otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from broker.config import Config

if TYPE_CHECKING:  # the supervisor of -workers N asks `uses_mongo` without importing the storage stack
    from broker.storage.port import Storage


def uses_mongo(config: Config) -> bool:
    return bool(config.dbURI)


def open_storage(config: Config) -> Storage:
    """The configured store, not started yet."""
    if uses_mongo(config):
        from broker.storage.mongo import MongoStorage

        return MongoStorage(
            config.dbURI,
            db=config.db,
            write_concern=config.writeConcern,
            pool_size=config.dbPoolSize,
            timeout_ms=config.dbTimeout,
        )
    from broker.storage.sqlite import SqliteStorage

    return SqliteStorage(config.dbPath)
