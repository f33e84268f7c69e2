"""Errors in the FIWARE IoT Agent's shape: HTTP status plus `{"name": ..., "message": ...}`."""

from __future__ import annotations

import json


class IotError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message

    def body(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message}


def missing_headers(names: list[str]) -> IotError:
    return IotError(400, "MISSING_HEADERS", "Some headers were missing from the request: " + json.dumps(names))


def wrong_syntax(detail: str) -> IotError:
    return IotError(400, "WRONG_SYNTAX", "Wrong syntax in request: " + detail)


def bad_request(detail: str) -> IotError:
    return IotError(400, "BAD_REQUEST", "Request error connecting to the Context Broker: " + detail)


def device_not_found(device_id: str) -> IotError:
    return IotError(404, "DEVICE_NOT_FOUND", "No device was found with id:" + device_id)


def duplicate_device(device_id: str) -> IotError:
    return IotError(
        409, "DUPLICATE_DEVICE_ID", "A device with the same pair (Service, DeviceId) was found:" + device_id
    )


def duplicate_group(resource: str, apikey: str) -> IotError:
    return IotError(
        409, "DUPLICATE_GROUP", f"A device configuration already exists for resource {resource} and API Key {apikey}"
    )


def group_not_found(fields: list[str], values: list[str]) -> IotError:
    return IotError(
        404,
        "DEVICE_GROUP_NOT_FOUND",
        f"Couldn't find device group for fields: {','.join(fields)} and values: {','.join(values)}",
    )


def mandatory_params(params: list[str]) -> IotError:
    return IotError(
        400,
        "MANDATORY_PARAMS_NOT_FOUND",
        "Some of the mandatory params weren't found in the request: " + json.dumps(params),
    )


def parse_error(detail: str) -> IotError:
    return IotError(400, "PARSE_ERROR", "There was a syntax error in the measure: " + detail)


def payload_too_large(limit: int) -> IotError:
    return IotError(413, "PAYLOAD_TOO_LARGE", f"The measure payload is larger than {limit} bytes")


def broker_unavailable(detail: str) -> IotError:
    return IotError(
        503, "CONTEXT_BROKER_UNAVAILABLE", "The context broker did not accept the update in time: " + detail
    )
