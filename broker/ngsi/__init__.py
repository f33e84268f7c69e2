"""The NGSI core: use cases, validation, rendering. No HTTP and no storage specifics here."""
