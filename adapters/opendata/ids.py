"""Entity ids and names within NGSI-v2's syntax: 1-256 printable ASCII, none of whitespace `& ? / # < > " ' = ; ( )`."""

from __future__ import annotations

import hashlib
import re

FORBIDDEN = set("&?/#<>\"'=;()")
MAX_LENGTH = 256
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


def is_valid_name(text: str) -> bool:
    return 0 < len(text) <= MAX_LENGTH and all(0x21 <= ord(c) <= 0x7E and c not in FORBIDDEN for c in text)


def sanitize_id(raw: str) -> str:
    """`raw` if already valid; else disallowed characters become `_` and a short hash of `raw` keeps ids distinct.

    `AED-001` stays `AED-001`; `AED-金沢駅` becomes `AED-___~<12 hex>`: the same input always gives the same id,
    so a second import finds the entities of the first.
    """
    if is_valid_name(raw):
        return raw
    cleaned = "".join(c if 0x21 <= ord(c) <= 0x7E and c not in FORBIDDEN else "_" for c in raw)
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return cleaned[: MAX_LENGTH - 13] + "~" + digest


def template_fields(template: str) -> list[str]:
    return _TEMPLATE_FIELD.findall(template)


def render_template(template: str, fields: dict[str, object]) -> str:
    """Fill `{column}` placeholders; raises KeyError naming a column that is missing or empty."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        v = fields.get(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            raise KeyError(name)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v).strip()

    return _TEMPLATE_FIELD.sub(value, template)
