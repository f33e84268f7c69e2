"""User-supplied regular expressions, compiled once and matched in linear time."""

from __future__ import annotations

from functools import lru_cache

import re2

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # an invalid pattern is the client's 400, not a line on our stderr
_RE2_OPTIONS.max_mem = 8 << 20  # a compiled pattern's memory bound (RE2's default): larger ones are refused


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re2._Regexp | None:
    """Compiled regular expressions (`~=`, idPattern, typePattern, subscriptions, registrations),
    cached; None when invalid. RE2 matches in time linear in the text, whatever the pattern: a
    backtracking engine (Python's `re`) takes seconds on `^(a+)+$` against 30 characters, holding
    the event loop and every other request. RE2 has no back-references or look-arounds, which
    POSIX extended expressions (Orion's dialect) do not have either."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except (re2.error, TypeError, ValueError, MemoryError):
        return None
