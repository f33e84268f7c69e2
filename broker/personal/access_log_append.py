"""Appending to the access log: the chain is built here, by `access_log.link`, whatever the store.

A store offers one of two appends (`broker.storage.port`):

- a conditional one (`ConditionalAccessLog`, MongoDB): records sealed here after the head read,
  stored as long as the log still ends where they were sealed to go; those a concurrent append
  (another process) came before are sealed again after the new head and offered again;
- a serial one (`SerialAccessLog`, SQLite): the store's one writer per file links the records
  with the same `access_log.link` inside the transaction that appends them, where nobody else can
  move the head. It keeps the sealing in the writer process, off the serving process's GIL, and
  lets a read hand its disclosures over without waiting for the head (`wait=False`).
"""

from __future__ import annotations

from typing import Any

from broker.personal.access_log import link
from broker.storage.port import AccessLogReads, ConditionalAccessLog, SerialAccessLog, StorageUnavailable

ATTEMPTS = 50  # conditional appends lost to concurrent ones before the log counts as unavailable


async def append(store: AccessLogReads, tenant: str, records: list[dict[str, Any]], *, wait: bool = True) -> None:
    """Append `records` to the tenant's chain, in order. `wait=False` may return once they are
    handed over (a serial store commits them soon after, before any read of the log)."""
    if not records:
        return
    if isinstance(store, SerialAccessLog):
        await store.append_access_log_serially(tenant, records, wait=wait)
        return
    if not isinstance(store, ConditionalAccessLog):
        raise TypeError(f"{type(store).__name__} offers no access-log append")
    pending = records
    for _ in range(ATTEMPTS):
        head = await store.access_log_head(tenant)
        sealed = [dict(record) for record in pending]
        link(head[1], sealed)
        pending = pending[await store.append_access_log_if(tenant, head, sealed) :]
        if not pending:
            return
    raise StorageUnavailable("the access log is contended: too many concurrent appends")
