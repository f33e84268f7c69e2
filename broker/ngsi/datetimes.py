"""ISO 8601 parsing and Orion's rendering of dates (`YYYY-MM-DDThh:mm:ss.sssZ`, always UTC)."""

from __future__ import annotations

import calendar
import re
import time

_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?|([0-9]{2})(?:([0-9]{2})(?:\.([0-9]+))?)?)?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)  # hh:mm:ss.sss, hhmmss.sss, hh:mm, hhmm or hh; zone Z, +hh:mm, +hhmm or +hh


def parse_iso8601(text: str) -> float | None:
    """Epoch seconds for an ISO 8601 date/time, or None when the text is not one."""
    m = _ISO.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, c_minute, c_second, c_frac, zone = m.groups()
    if c_minute is not None:  # the compact form, without colons
        minute, second, frac = c_minute, c_second, c_frac
    if zone is not None and hour is None:
        return None
    try:
        parts = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        if not (1 <= parts[1] <= 12 and 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1]):
            return None
        if parts[3] > 23 or parts[4] > 59 or parts[5] > 60:
            return None
        epoch = float(calendar.timegm(parts + (0, 0, 0)))
    except (ValueError, OverflowError):
        return None
    if frac:  # any resolution is accepted (Orion: "even smaller" than microseconds); milliseconds are kept
        frac = frac[:9]
        epoch += round(int(frac) / 10 ** len(frac), 3)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
        if int(digits[:2]) > 23 or (len(digits) > 2 and int(digits[2:4]) > 59):
            return None
        epoch -= sign * offset
    return epoch


def format_iso8601(epoch: float) -> str:
    """Orion's rendering: UTC with milliseconds, `.000Z` for whole seconds."""
    millis = int(round(epoch * 1000))
    seconds, ms = divmod(millis, 1000)
    try:
        tm = time.gmtime(seconds)
    except (OverflowError, OSError, ValueError):
        tm = time.gmtime(0)
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{ms:03d}Z"
    )
