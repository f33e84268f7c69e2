"""An Orion-compatible NGSI-v2 context broker with consent-filtered personal data."""

from __future__ import annotations

__version__ = "4.7.0"  # the Orion API level we reproduce; see broker.version
