"""What Orion's operations API reports: request and notification counters (`/statistics`), the
per-tenant metrics (`/admin/metrics`) and the subscription-cache counters (`/cache/statistics`).

Counted where things happen: the HTTP layer counts requests, the dispatcher reports each
notification attempt through `broker.observability.hooks`. Pure bookkeeping, no I/O. Each process
counts its own (with `-workers N` every serving process answers with its own numbers, as each
Orion instance does).
"""
