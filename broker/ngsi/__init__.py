"""The NGSI vocabulary: model, validation, query language (q, mq, geo), selection types, change
events, rendering. Pure, and imports nothing else of the broker; every other layer imports it."""
