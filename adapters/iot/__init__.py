"""IoT agent: UltraLight 2.0 and JSON measures over HTTP and MQTT become NGSI-v2 updates.

Provisioning follows the FIWARE IoT Agent API (`/iot/services`, `/iot/devices`), so existing
provisioning scripts work unchanged.
"""
