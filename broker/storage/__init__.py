"""The storage port and its backends. Backends store and query; business rules live in the core."""
