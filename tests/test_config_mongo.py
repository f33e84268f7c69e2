"""The MongoDB flags: `-dbURI` selects MongoDB, `-db`, `-writeConcern`, `-dbPoolSize`, `-dbTimeout`."""

from __future__ import annotations

import pytest

from broker.config import load_config
from broker.storage.factory import open_storage, uses_mongo
from broker.storage.mongo import MongoStorage
from broker.storage.sqlite import SqliteStorage


def test_without_a_uri_the_embedded_store_stays_the_default() -> None:
    config = load_config([], {})
    assert (config.dbURI, config.db, config.writeConcern, config.dbPoolSize) == ("", "orion", 1, 10)
    assert not uses_mongo(config) and isinstance(open_storage(config), SqliteStorage)


def test_flags_select_and_configure_mongodb() -> None:
    config = load_config(
        ["-dbURI", "mongodb://h:27017/", "-db", "city", "-writeConcern", "0", "-dbPoolSize", "3", "-dbTimeout", "250"],
        {},
    )
    store = open_storage(config)
    assert isinstance(store, MongoStorage)
    assert (store.uri, store.db, store.write_concern, store.pool_size, store.timeout_ms) == (
        "mongodb://h:27017/",
        "city",
        0,
        3,
        250,
    )


def test_orions_variables_configure_mongodb_and_flags_win() -> None:
    env = {
        "ORION_MONGO_URI": "mongodb://env/",
        "ORION_MONGO_DB": "envdb",
        "ORION_MONGO_WRITE_CONCERN": "0",
        "ORION_MONGO_POOL_SIZE": "7",
        "ORION_MONGO_TIMEOUT": "99",
    }
    config = load_config(["-db", "flagdb"], env)
    assert (config.dbURI, config.db, config.writeConcern, config.dbPoolSize, config.dbTimeout) == (
        "mongodb://env/",
        "flagdb",
        0,
        7,
        99,
    )


@pytest.mark.parametrize("argv", [["-writeConcern", "2"], ["-dbPoolSize", "0"]])
def test_out_of_range_values_stop_with_a_message(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match="must be"):
        load_config(argv, {})
