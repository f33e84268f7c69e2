"""One access-log disclosure record for the tests of the log's storage and writer."""

from __future__ import annotations

from broker.personal import access_log


def record(i: int, subject: str = "alice") -> dict:
    """A query disclosure at time `i` of entity `E<i>` of `subject` to the recipient `svc`."""
    return access_log.disclosure(
        time=float(i),
        tenant="t",
        recipient="svc",
        subject=subject,
        entity_id=f"E{i}",
        entity_type="T",
        attrs=["a"],
        consents=("c1",),
        channel="query",
        correlator="x",
    )
