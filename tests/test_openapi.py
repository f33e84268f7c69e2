"""schemas/openapi.json describes exactly the routes of `broker.http.app.ROUTES`, is valid OpenAPI 3.1,
is served at `GET /openapi.json`, and matches what the broker actually answers."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from broker.http.app import ROUTES
from broker.ngsi.errors import NgsiError
from broker.ngsi.options import KNOWN_OPTIONS
from broker.ngsi.payload import parse_text_value

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DOC: dict[str, Any] = json.loads((SCHEMAS / "openapi.json").read_text())
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
EMBEDDED = {"Entity": "entity", "Attribute": "attribute", "Metadata": "metadata"}
DOC_URI = "urn:area-broker:openapi"
REGISTRY: Registry = Registry().with_resource(DOC_URI, Resource.from_contents(DOC, default_specification=DRAFT202012))


def template(path: str) -> str:
    """A path with its parameters anonymised, so aiohttp and OpenAPI forms compare (`{entityId}` -> `{}`)."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), path, op) for path, item in DOC["paths"].items() for m, op in item.items() if m in METHODS]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/components/...`)."""
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_validator(pointer: str) -> Draft202012Validator:
    """A validator for a schema of the document, `$ref`s resolved within it."""
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=REGISTRY)


def operation(method: str, path: str) -> dict[str, Any]:
    return DOC["paths"][path][method.lower()]


# ---------------------------------------------------------------- the document against the route table


def test_every_route_has_an_operation_and_every_operation_a_route() -> None:
    routes = {(method, template(path)) for method, path, _ in ROUTES}
    documented = {(method, template(path)) for method, path, _ in operations()}
    assert routes - documented == set(), "routes missing from schemas/openapi.json"
    assert documented - routes == set(), "operations in schemas/openapi.json without a route"
    assert len(operations()) == len(ROUTES)


def test_path_parameter_names_are_those_of_the_route() -> None:
    by_template = {template(path): path for _, path, _ in ROUTES}
    for method, path, op in operations():
        declared = {p["name"] for p in map(resolve, op["parameters"]) if p["in"] == "path"}
        assert set(re.findall(r"\{([^}/]+)\}", path)) == declared, (method, path)
        assert path == by_template[template(path)], "the same parameter names as the route table"
        assert all(p["required"] for p in map(resolve, op["parameters"]) if p["in"] == "path")


def test_every_operation_takes_the_fiware_headers_and_answers_with_the_correlator() -> None:
    for method, path, op in operations():
        headers = {p["name"] for p in map(resolve, op["parameters"]) if p["in"] == "header"}
        assert headers == {"Fiware-Service", "Fiware-ServicePath", "Fiware-Correlator"}, (method, path)
        for status, response in op["responses"].items():
            assert "Fiware-Correlator" in resolve(response)["headers"], (method, path, status)


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))


def test_documented_options_are_options_the_broker_knows() -> None:
    for method, path, op in operations():
        for p in map(resolve, op["parameters"]):
            if p["name"] == "options":
                values = set(p["schema"]["items"]["enum"])
                assert values <= KNOWN_OPTIONS, (method, path, values - KNOWN_OPTIONS)
                assert (p["style"], p["explode"]) == ("form", False), "comma-separated, as Orion takes them"


def test_error_responses_use_the_error_body_and_success_codes_are_orions() -> None:
    expected_success = {
        ("POST", "/v2/entities"): {"201", "204"},
        ("GET", "/v2/entities"): {"200"},
        ("DELETE", "/v2/entities/{entityId}"): {"204"},
        ("PATCH", "/v2/entities/{entityId}/attrs"): {"204"},
        ("PUT", "/v2/entities/{entityId}/attrs/{attrName}/value"): {"204"},
    }
    for method, path, op in operations():
        for status, response in op["responses"].items():
            if int(status) >= 400:
                schema = resolve(response)["content"]["application/json"]["schema"]
                if (method, path, status) == ("PUT", "/admin/log", "400"):  # Orion's own `{"error"}` body too
                    schema = schema["anyOf"][0]
                assert schema == {"$ref": "#/components/schemas/Error"}
        if (method, path) in expected_success:
            assert {s for s in op["responses"] if int(s) < 400} == expected_success[(method, path)]
    assert "Location" in operation("POST", "/v2/entities")["responses"]["201"]["headers"]
    for path in ("/v2/entities", "/v2/types"):
        assert "Fiware-Total-Count" in operation("GET", path)["responses"]["200"]["headers"]
    value = operation("GET", "/v2/entities/{entityId}/attrs/{attrName}/value")["responses"]["200"]["content"]
    assert set(value) == {"application/json", "text/plain"}
    body = operation("PUT", "/v2/entities/{entityId}/attrs/{attrName}/value")["requestBody"]["content"]
    assert set(body) == {"application/json", "text/plain"}


@pytest.mark.parametrize(("component", "name"), sorted(EMBEDDED.items()))
def test_embedded_schemas_are_the_published_files(component: str, name: str) -> None:
    """components/schemas holds each schema file as is, its `$ref`s turned into component pointers."""
    published = json.loads((SCHEMAS / f"{name}.schema.json").read_text())

    def localise(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref":
                    file, _, pointer = value.partition("#")
                    target = next(c for c, n in EMBEDDED.items() if f"{n}.schema.json" == file) if file else component
                    out[key] = f"#/components/schemas/{target}{pointer}"
                else:
                    out[key] = localise(value)
            return out
        if isinstance(node, list):
            return [localise(v) for v in node]
        return node

    expected = localise({k: v for k, v in published.items() if k not in ("$id", "$schema")})
    embedded = {k: v for k, v in DOC["components"]["schemas"][component].items() if k != "$comment"}
    assert embedded == expected


def test_request_bodies_validate_through_the_embedded_schemas() -> None:
    create = schema_validator("/paths/~1v2~1entities/post/requestBody/content/application~1json/schema")
    assert create.is_valid({"id": "Room1", "type": "Room", "temperature": {"value": 23, "type": "Float"}})
    assert create.is_valid({"id": "Room1", "temperature": 23})
    assert not create.is_valid({"id": "Room 1"})
    put_attr = schema_validator("/components/schemas/Attribute")
    assert put_attr.is_valid({"value": 1, "metadata": {"unit": {"value": "C"}}})
    assert not put_attr.is_valid({"value": 1, "metadata": {"unit": {"value": "C", "x": 1}}})


# ---------------------------------------------------------------- OpenAPI 3.1 validity


def test_document_is_a_valid_openapi_3_1_document() -> None:
    validators = pytest.importorskip("openapi_spec_validator")
    assert DOC["openapi"].startswith("3.1.")
    validators.validate(DOC)  # the OpenAPI 3.1 meta-schema, plus $ref resolution and path-parameter checks


@pytest.mark.parametrize(
    "breakage",
    [
        lambda doc: doc.pop("info"),
        lambda doc: doc["components"]["parameters"]["type"].update({"in": "body"}),
        lambda doc: doc["components"]["schemas"]["Error"].update({"type": "objekt"}),
        lambda doc: doc["paths"]["/v2/entities/{entityId}"]["delete"].update({"parameters": []}),
    ],
    ids=["no-info", "parameter-in-body", "bad-schema-type", "undeclared-path-parameter"],
)
def test_the_validator_would_catch_a_broken_document(breakage: Any) -> None:
    """Guards the test above against a validator that accepts anything."""
    validators = pytest.importorskip("openapi_spec_validator")
    broken = copy.deepcopy(DOC)
    breakage(broken)
    with pytest.raises(Exception):  # noqa: B017 (any validation error)
        validators.validate(broken)


# ---------------------------------------------------------------- the text/plain value form


def _parses(text: str) -> bool:
    try:
        parse_text_value(text)
    except NgsiError:
        return False
    return True


TEXT_VALUE = schema_validator("/components/schemas/TextValue")


@pytest.mark.parametrize(
    "text",
    [
        '"hello"',
        '""',
        '"a b&c"',
        '"a<b"',
        '"abc',
        "true",
        "TRUE",
        "tRUE",
        "null",
        "NULL",
        "false",
        "42",
        "-4.5",
        "+1e3",
        ".5",
        "1.",
        "abc",
        "1 ",
        " 1",
        "0x10",
        "nan",
        "inf",
        "1e",
        "--1",
    ],
)
def test_text_value_schema_accepts_what_put_value_accepts(text: str) -> None:
    assert TEXT_VALUE.is_valid(text) == _parses(text)


@pytest.mark.parametrize("text", ["1_000", "١٢"])
def test_put_value_text_refuses_numbers_orion_refuses(text: str) -> None:
    assert not TEXT_VALUE.is_valid(text)
    assert not _parses(text)


# ---------------------------------------------------------------- served document and live responses


async def test_get_openapi_json_serves_the_document(client: TestClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    assert resp.headers["Content-Type"].split(";")[0] == "application/json"
    assert "Fiware-Correlator" in resp.headers
    assert await resp.json() == DOC


def _response_schema(method: str, path: str, status: int) -> Draft202012Validator:
    escaped = path.replace("~", "~0").replace("/", "~1")
    response = operation(method, path)["responses"][str(status)]
    if "$ref" in response:
        return schema_validator(response["$ref"].removeprefix("#") + "/content/application~1json/schema")
    return schema_validator(f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema")


async def test_live_responses_have_documented_statuses_headers_and_bodies(client: TestClient) -> None:
    entity = {
        "id": "Room1",
        "type": "Room",
        "temperature": {"value": 23, "type": "Float", "metadata": {"u": {"value": "C"}}},
    }
    resp = await client.post("/v2/entities", json=entity)
    assert resp.status == 201
    assert resp.headers["Location"] == "/v2/entities/Room1?type=Room"
    assert "Location" in operation("POST", "/v2/entities")["responses"]["201"]["headers"]

    resp = await client.post("/v2/entities", json=entity)
    assert resp.status == 422
    assert _response_schema("POST", "/v2/entities", 422).is_valid(await resp.json())

    resp = await client.get("/v2/entities", params={"options": "count"})
    assert resp.status == 200 and resp.headers["Fiware-Total-Count"] == "1"
    assert _response_schema("GET", "/v2/entities", 200).is_valid(await resp.json())

    resp = await client.get("/v2/entities/Room1")
    assert resp.status == 200
    assert _response_schema("GET", "/v2/entities/{entityId}", 200).is_valid(await resp.json())

    resp = await client.get("/v2/entities/Room1/attrs/temperature")
    assert resp.status == 200
    assert _response_schema("GET", "/v2/entities/{entityId}/attrs/{attrName}", 200).is_valid(await resp.json())

    resp = await client.get("/v2/entities/Nope")
    assert resp.status == 404
    assert _response_schema("GET", "/v2/entities/{entityId}", 404).is_valid(await resp.json())

    for url, path in (
        ("/v2/types", "/v2/types"),
        ("/v2/types/Room", "/v2/types/{entityType}"),
        ("/v2", "/v2"),
        ("/version", "/version"),
    ):
        resp = await client.get(url)
        assert resp.status == 200
        assert _response_schema("GET", path, 200).is_valid(await resp.json()), url


def test_every_operation_documents_what_the_request_edge_can_answer() -> None:
    """The pipeline checks headers, URI parameters, Accept, size and media type before any route."""
    for method, path, op in operations():
        expected = {"400", "406", "413", "415", "500"} | ({"411"} if method in ("POST", "PUT", "PATCH") else set())
        assert expected <= set(op["responses"]), (method, path, expected - set(op["responses"]))


@pytest.mark.parametrize(
    ("url", "path", "headers", "status"),
    [
        ("/version", "/version", {"Fiware-ServicePath": "no-slash"}, 400),
        ("/v2", "/v2", {"Fiware-Service": "a-b"}, 400),
        ("/openapi.json", "/openapi.json", {"Accept": "text/html"}, 406),
        ("/v2/types?offset=9223372036854775808", "/v2/types", {}, 400),
        ("/v2/entities?limit=1e20", "/v2/entities", {}, 400),
    ],
)
async def test_edge_errors_on_any_route_are_documented(
    client: TestClient, url: str, path: str, headers: dict[str, str], status: int
) -> None:
    resp = await client.get(url, headers=headers)
    assert resp.status == status
    assert str(status) in operation("GET", path)["responses"]
    assert _response_schema("GET", path, status).is_valid(await resp.json())
