"""The one place where an `NgsiError` becomes an HTTP response."""

from __future__ import annotations

import orjson
from aiohttp import web

from broker.ngsi.errors import NgsiError

_ESCAPES = str.maketrans(
    {"<": "&lt;", ">": "&gt;", "(": "&#40;", ")": "&#41;", "=": "&#61;", "'": "&#39;", '"': "&quot;", ";": "&#59;"}
)

REASONS = {413: "Content Too Large", 422: "Unprocessable Content"}


def html_escape(text: str) -> str:
    """Orion escapes these characters in error bodies so they cannot be replayed as markup."""
    return text.translate(_ESCAPES)


def error_response(err: NgsiError) -> web.Response:
    """The JSON error body; its Content-Type is `application/json` unless the error names another
    (Orion labels the same JSON `text/plain` when the client accepts only text)."""
    body = orjson.dumps({"error": html_escape(err.error), "description": html_escape(err.description)})
    headers = dict(err.headers)
    content_type = headers.pop("Content-Type", "application/json")
    return web.Response(
        status=err.status,
        reason=REASONS.get(err.status),
        body=body,
        content_type=content_type,
        headers=headers or None,
    )
