"""The personal-data module: consent-filtered entity types, access log, resident rights, statistics.

`policy` turns (principal, personal types, consents) into the visibility constraint every read ANDs
in and the projection of what it returns; `guard` applies it at the engine boundary, once per read,
write and notification. Decisions are pure; consents, types and the access log live in storage.
The `/personal/v1` use cases (residents' rights) are in `broker.core.personal`.
"""
