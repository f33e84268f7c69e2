"""How a backend's facade offers its role classes as one `Storage`: each role once, by protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def expose(
    facade: object, role: object, *protocols: type, around: Callable[[Callable[..., Any]], Any] | None = None
) -> None:
    """Bind on `facade` every method that the port's `protocols` declare, taken from `role`, so a
    facade names each role once and the port alone says which methods a role offers; `around`, if
    given, wraps each (e.g. `InFlightLimit.guard`)."""
    for protocol in protocols:
        for klass in protocol.__mro__:
            if klass.__module__ != protocol.__module__:  # typing.Protocol, Generic, object
                continue
            for name, value in vars(klass).items():
                if not name.startswith("_") and callable(value):
                    method = getattr(role, name)
                    setattr(facade, name, around(method) if around is not None else method)
