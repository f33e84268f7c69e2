"""The MongoDB backend, in Orion's document layout (tested against FerretDB and MongoDB)."""

from broker.storage.mongo.backend import MongoStorage

__all__ = ["MongoStorage"]
