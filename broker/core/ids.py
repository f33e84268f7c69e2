"""Ids of subscriptions and registrations, laid out as Orion's are: MongoDB ObjectIds."""

from __future__ import annotations

import itertools
import os

_PROCESS = os.urandom(5).hex()
_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_object_id(now: float) -> str:
    """24 hex digits laid out as a MongoDB ObjectId (creation second, this process, a counter), as
    Orion's ids are: listing by id is then creation order, within a second too."""
    return f"{int(now) & 0xFFFFFFFF:08x}{_PROCESS}{next(_COUNTER) & 0xFFFFFF:06x}"
