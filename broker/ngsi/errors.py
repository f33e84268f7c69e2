"""Errors as values: every failure the core reports is an `NgsiError` carrying Orion's name and text.

The HTTP layer turns them into responses in exactly one place (`broker.http.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NgsiError(Exception):
    status: int
    error: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return f"{self.status} {self.error}: {self.description}"


def bad_request(description: str) -> NgsiError:
    return NgsiError(400, "BadRequest", description)


def parse_error(description: str = "Errors found in incoming JSON buffer") -> NgsiError:
    return NgsiError(400, "ParseError", description)


def not_found(description: str) -> NgsiError:
    return NgsiError(404, "NotFound", description)


def unprocessable(description: str, error: str = "Unprocessable") -> NgsiError:
    return NgsiError(422, error, description)


ENTITY_NOT_FOUND = "The requested entity has not been found. Check type and id"
ATTRIBUTE_NOT_FOUND = "The entity does not have such an attribute"
TYPE_NOT_FOUND = "Entity type not found"
TOO_MANY_ENTITIES = "More than one matching entity. Please refine your query"
SERVICE_NOT_FOUND = "Service not found. Check your URL as probably it is wrong."


def entity_not_found() -> NgsiError:
    return not_found(ENTITY_NOT_FOUND)


def attribute_not_found() -> NgsiError:
    return not_found(ATTRIBUTE_NOT_FOUND)


def too_many_results() -> NgsiError:
    return NgsiError(409, "TooManyResults", TOO_MANY_ENTITIES)


def internal_error(description: str) -> NgsiError:
    return NgsiError(500, "InternalServerError", description)


def database_busy(detail: object) -> NgsiError:
    """Too many requests already wait for the database (storage.admission): nothing was done, try
    again. Orion would keep queueing them; a bounded queue answers this instead."""
    return NgsiError(503, "ServiceUnavailable", f"Database busy, try again later ({detail})", {"Retry-After": "1"})


def database_error(detail: object) -> NgsiError:
    """A store that failed or cannot be reached: Orion's 500 "Database Error (...)"."""
    return internal_error(f"Database Error ({detail})")
