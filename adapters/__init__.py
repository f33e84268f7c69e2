"""Adapters: separate processes that feed an NGSI-v2 broker over HTTP (IoT agent, open-data importer).

Nothing here imports `broker`: the adapters work against any NGSI-v2 broker, ours or FIWARE Orion.
"""
