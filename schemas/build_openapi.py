"""Writes schemas/openapi.json from the JSON Schemas and the route table: `python schemas/build_openapi.py`."""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent
COMPONENT = {
    "entity": "Entity",
    "attribute": "Attribute",
    "metadata": "Metadata",
    "consent": "Consent",
    "statistics": "StatisticsRequest",
}


# the body and rendering of a registration (Orion's `dataProvided`, `provider`, ...)
REGISTRATION_SCHEMA = json.loads(r"""{
 "type": "object",
 "required": [
  "dataProvided",
  "provider"
 ],
 "description": "An NGSI-v2 context provider registration, as Orion 4.x takes and renders it.",
 "properties": {
  "id": {
   "type": "string",
   "readOnly": true
  },
  "description": {
   "type": "string",
   "maxLength": 1024
  },
  "dataProvided": {
   "type": "object",
   "properties": {
    "entities": {
     "type": "array",
     "items": {
      "type": "object",
      "properties": {
       "id": {
        "type": "string"
       },
       "idPattern": {
        "type": "string",
        "description": "Only `.*` (Orion)."
       },
       "type": {
        "type": "string"
       }
      }
     }
    },
    "attrs": {
     "type": "array",
     "items": {
      "type": "string",
      "minLength": 1
     }
    }
   }
  },
  "provider": {
   "type": "object",
   "required": [
    "http"
   ],
   "properties": {
    "http": {
     "type": "object",
     "required": [
      "url"
     ],
     "properties": {
      "url": {
       "type": "string",
       "format": "uri"
      }
     }
    },
    "supportedForwardingMode": {
     "type": "string",
     "enum": [
      "all",
      "none",
      "query",
      "update"
     ],
     "default": "all"
    },
    "legacyForwarding": {
     "type": "boolean",
     "default": false
    }
   }
  },
  "expires": {
   "type": "string",
   "description": "ISO 8601; rendered in whole seconds with `.00Z`, as Orion does."
  },
  "status": {
   "type": "string",
   "enum": [
    "active",
    "inactive"
   ]
  },
  "forwardingInformation": {
   "type": "object",
   "readOnly": true,
   "description": "area-broker extension (documented by Orion's manual, not rendered by Orion 4.x): present once a request was forwarded to the provider.",
   "required": [
    "timesSent"
   ],
   "properties": {
    "timesSent": {
     "type": "integer",
     "minimum": 1,
     "description": "Requests forwarded to the provider."
    },
    "lastSuccess": {
     "type": "string",
     "format": "date-time",
     "description": "Last forward answered as expected; absent if none was."
    },
    "lastFailure": {
     "type": "string",
     "format": "date-time",
     "description": "Last forward that failed (connection, timeout, status, body); absent if none did."
    },
    "lastForwarding": {
     "type": "string",
     "format": "date-time"
    }
   }
  }
 }
}""")


def embed(name):
    """The schema file as a component: no `$id`/`$schema`, every `$ref` rewritten to a component pointer."""
    doc = json.loads((OUT / f"{name}.schema.json").read_text())
    source = f"schemas/{name}.schema.json"

    def fix(node, here):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$ref":
                    file, _, pointer = v.partition("#")
                    target = COMPONENT[file.removesuffix(".schema.json")] if file else here
                    out[k] = f"#/components/schemas/{target}{pointer}"
                else:
                    out[k] = fix(v, here)
            return out
        if isinstance(node, list):
            return [fix(v, here) for v in node]
        return node

    body = fix({k: v for k, v in doc.items() if k not in ("$id", "$schema")}, COMPONENT[name])
    return {"$comment": f"{source} ({doc['$id']}), with its $refs pointing at components", **body}


load = embed

E = "#/components/schemas/Entity"
A = "#/components/schemas/Attribute"


def ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def options(values, extra=""):
    return {
        "name": "options",
        "in": "query",
        "required": False,
        "description": (
            "Comma-separated options. "
            + extra
            + " The broker also accepts (and ignores here) the other options Orion knows; an unknown option is a "
            '400 "Invalid value for URI param /options/".'
        ).strip(),
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "uniqueItems": True, "items": {"type": "string", "enum": values}},
    }


HEADERS = [
    ref("parameters", "FiwareService"),
    ref("parameters", "FiwareServicePath"),
    ref("parameters", "FiwareCorrelator"),
]


def resp(desc, schema=None, headers=None, media="application/json"):
    r = {"description": desc, "headers": {"Fiware-Correlator": ref("headers", "FiwareCorrelator")}}
    if headers:
        r["headers"].update(headers)
    if schema is not None:
        r["content"] = {media: {"schema": schema}} if isinstance(media, str) else {m: {"schema": s} for m, s in media}
    return r


def errors(*codes):
    return {str(c): ref("responses", ERR_NAMES[c]) for c in codes + (500,)}


ERR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    406: "NotAcceptable",
    409: "TooManyResults",
    411: "ContentLengthRequired",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "Unprocessable",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
ERR_DESC = {
    400: "`ParseError` (the body is not JSON, not an object where one is required, or nested more than 50 levels) or "
    "`BadRequest` (a syntax rule is broken: identifiers, forbidden characters, URI parameters, headers).",
    401: '`Unauthorized`: no valid bearer token ("a valid bearer token is needed", "a bearer token is required" '
    'with `-authRequired`, "invalid token: ..."); the response carries `WWW-Authenticate: Bearer`. A token that '
    "is sent must be valid on every route.",
    403: '`Forbidden`: the token is valid but lacks the role the operation needs ("this operation needs the role ..."), '
    'or the caller may not act on that resource ("only the consent\'s resident or an operator can withdraw it").',
    404: '`NotFound`: "The requested entity has not been found. Check type and id", "The entity does not have such an '
    'attribute", "Entity type not found", "The entity type is not declared personal" or "The requested consent '
    'has not been found. Check its id".',
    406: "`NotAcceptable`: the Accept header admits no media type the route can answer with.",
    409: '`TooManyResults`: "More than one matching entity. Please refine your query" (the id is ambiguous; add `type`).',
    411: '`ContentLengthRequired`: "Zero/No Content-Length in PUT/POST/PATCH request".',
    413: "`RequestEntityTooLarge` (the body exceeds the maximum payload size, 1 MB by default) or "
    "`NoResourcesAvailable` (more than one location attribute in an entity).",
    415: "`UnsupportedMediaType`: a body whose Content-Type is missing or not `application/json` "
    "(or `text/plain` where the route takes it).",
    422: '`Unprocessable` (nothing was done: "Already Exists", "do not exist: E/T - [ A ]", '
    '"one or more of the attributes in the request already exist: E/T - [ A ]") or `PartialUpdate` '
    "(some attributes were applied).",
    500: "`InternalServerError`: a storage failure or an unexpected error.",
    503: '`ServiceUnavailable` (MongoDB store only): "Database busy, try again later (...)": more storage '
    "operations than the process admits (32 per `-dbPoolSize` connection) were already waiting for the database; "
    "nothing was done. The response carries `Retry-After`.",
}

P_ENTITY = ref("parameters", "entityId")
P_ATTR = ref("parameters", "attrName")
P_TYPE = ref("parameters", "type")
P_ATTRS = ref("parameters", "attrs")
P_MD = ref("parameters", "metadata")


def op(op_id, summary, desc, params, responses, body=None, tags=None):
    o = {
        "operationId": op_id,
        "summary": summary,
        "description": desc,
        "tags": tags or [],
        "parameters": params + HEADERS,
        "responses": responses,
    }
    if body:
        o["requestBody"] = body
    return o


def personal(op_id, summary, desc, params, responses, body=None, security=None):
    """A `/personal/v1` operation: tagged `personal`, callers identified by their bearer token."""
    o = op(op_id, summary, desc, params, responses, body, tags=["personal"])
    o["security"] = security if security is not None else [{"bearerAuth": []}]
    return o


def json_body(schema, desc):
    return {"required": True, "description": desc, "content": {"application/json": {"schema": schema}}}


NO_CONTENT = lambda d: resp(d)
WRITE_ERRORS = (400, 404, 409, 411, 413, 415)

read_formats = ["keyValues", "values", "unique"]
entity_read = {
    "anyOf": [
        {"$ref": "#/components/schemas/EntityOut"},
        {"$ref": "#/components/schemas/EntityKeyValuesOut"},
        {"$ref": "#/components/schemas/EntityValuesOut"},
    ]
}


def admin_qp(name, desc, schema=None):
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema or {"type": "string"}}


paths = {
    "/version": {
        "get": op(
            "getVersion",
            "Broker version",
            "Orion's version document. `orion.version` is the Orion API level the broker reproduces; clients parse it as a version number.",
            [],
            {"200": resp("The version document.", ref("schemas", "Version"))},
            tags=["meta"],
        )
    },
    "/v2": {
        "get": op(
            "getEntryPoint",
            "API entry point",
            "The URLs of the NGSI-v2 resources, exactly as Orion lists them.",
            [],
            {"200": resp("The entry point.", ref("schemas", "EntryPoint"))},
            tags=["meta"],
        )
    },
    "/openapi.json": {
        "get": op(
            "getOpenApi",
            "This document",
            "This OpenAPI description of the broker's HTTP surface.",
            [],
            {"200": resp("The OpenAPI 3.1 document.", {"type": "object", "required": ["openapi", "paths"]})},
            tags=["meta"],
        )
    },
    "/statistics": {
        "get": op(
            "getAdminStatistics",
            "Statistics",
            "Orion's statistics: `uptime_in_secs` and `measuring_interval_in_secs` always; `counters` (requests by "
            "payload kind, by URL kind and verb, `missedVerb`, `invalidRequests`, `notificationsSent`, "
            "`deprecatedFeatures`) with `-statCounters`, `semWait` (seconds waiting for locks) with `-statSemWait`, "
            "`timing` (`total` and the time in parsing, the store and rendering) with `-statTiming`, `notifQueue` "
            "(with the outbox's `size`) with `-statNotifQueue`. A counter appears once it has counted something; "
            "`?options=fullCounters` shows them all. Each process counts its own.",
            [],
            {"200": resp("The statistics.", ref("schemas", "OrionStatistics"))},
            tags=["admin"],
        ),
        "delete": op(
            "resetAdminStatistics",
            "Reset the statistics",
            "Sets the counters to zero and restarts `measuring_interval_in_secs`.",
            [],
            {"200": resp('`{"message": "All statistics counter reset"}`.', ref("schemas", "AdminMessage"))},
            tags=["admin"],
        ),
    },
    "/cache/statistics": {
        "get": op(
            "getCacheStatistics",
            "Subscription cache statistics",
            "Counters of the subscription cache (`refresh`, `inserts`, `removes`, `updates`) and its size (`items`).",
            [],
            {"200": resp("The cache statistics.", ref("schemas", "CacheStatistics"))},
            tags=["admin"],
        ),
        "delete": op(
            "resetCacheStatistics",
            "Reset the cache statistics",
            "Sets the cache counters to zero.",
            [],
            {"200": resp('`{"message": "All statistics counter reset"}`.', ref("schemas", "AdminMessage"))},
            tags=["admin"],
        ),
    },
    "/admin/log": {
        "get": op(
            "getLogLevel",
            "Log level",
            "The log level of the process that answers.",
            [],
            {"200": resp('`{"level": "INFO"}`.', ref("schemas", "LogLevel"))},
            tags=["admin"],
        ),
        "put": op(
            "setLogLevel",
            "Change the log level",
            "Sets the log level of the process that answers, at once (`none`, `fatal`, `error`, `warn`/`warning`, "
            "`info`, `debug`, any case). As in Orion, a missing or unknown level answers 400 with Orion's own body "
            '`{"error": "log level missing"}` or `{"error": "invalid log level"}`. No body is needed.',
            [admin_qp("level", "The new level.")],
            {
                "200": resp("Changed; no body."),
                "400": resp(
                    "A bad header or URI parameter (an NGSI error body), or a missing or unknown level (Orion's "
                    '`{"error": "log level missing"}` or `{"error": "invalid log level"}`).',
                    {
                        "anyOf": [
                            ref("schemas", "Error"),
                            {
                                "type": "object",
                                "required": ["error"],
                                "additionalProperties": False,
                                "properties": {"error": {"type": "string"}},
                            },
                        ]
                    },
                ),
            },
            tags=["admin"],
        ),
    },
    "/log/trace": {
        m: op(
            f"{m}LogTrace",
            f"Trace levels ({m.upper()})",
            'GET: the trace levels as ranges (`{"tracelevels": "1-3,7"}`); DELETE: all off '
            '(`{"tracelevels": "all trace levels off"}`); PUT without levels: 400 "bad URL/Verb".',
            [],
            {"200": resp("The trace levels.", {"type": "object"}), **errors(400)},
            tags=["admin"],
        )
        for m in ("get", "put", "delete")
    },
    "/log/trace/{levels}": {
        m: op(
            f"{m}LogTraceLevels",
            f"Trace levels ({m.upper()} some)",
            'PUT sets the levels (`t1-t2,t3`; answers `{"tracelevels": "<levels>"}`), DELETE removes them '
            '(`{"tracelevels_removed": "<levels>"}`); characters other than digits, `-`, `,` answer Orion\'s '
            '`{"tracelevels": "poorly formatted trace level string"}`; GET: 400 "bad URL/Verb".',
            [
                {
                    "name": "levels",
                    "in": "path",
                    "required": True,
                    "description": "Trace levels, e.g. `1-3,7`.",
                    "schema": {"type": "string"},
                }
            ],
            {"200": resp("The trace levels.", {"type": "object"}), **errors(400)},
            tags=["admin"],
        )
        for m in ("get", "put", "delete")
    },
    "/admin/sem": {
        "get": op(
            "getSemaphores",
            "Locks",
            "Whether each lock this process takes is `free` or `taken` (`logMsg`, `metrics`, `timeStat`).",
            [],
            {
                "200": resp(
                    "The locks.",
                    {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"enum": ["free", "taken"]}},
                        },
                    },
                )
            },
            tags=["admin"],
        )
    },
    "/admin/metrics": {
        "get": op(
            "getMetrics",
            "Metrics",
            "Orion's metrics tree: `services` -> service (`default-service` for the default) -> `subservs` -> "
            "subservice (`root-subserv` for `/`) -> `incomingTransactions`, `incomingTransactionRequestSize`, "
            "`incomingTransactionResponseSize`, `incomingTransactionErrors`, `serviceTime` (average seconds), "
            "`outgoingTransactions` (notification attempts), `outgoingTransactionRequestSize`, "
            "`outgoingTransactionErrors`; each with its `sum`, and a grand `sum`. A client that asks for `text/plain` "
            "or OpenMetrics and not JSON (a Prometheus scrape) gets the same counters in the Prometheus text format. "
            'With `-disableMetrics`: 400 "metrics desactivated".',
            [admin_qp("reset", "`true`: read and reset at once.", {"enum": ["true", "false"]})],
            {
                "200": resp(
                    "The metrics.",
                    media=[("application/json", ref("schemas", "Metrics")), ("text/plain", {"type": "string"})],
                ),
                **errors(400),
            },
            tags=["admin"],
        ),
        "delete": op(
            "resetMetrics",
            "Reset the metrics",
            "Sets every metric to zero.",
            [],
            {"204": resp("Reset."), **errors(400)},
            tags=["admin"],
        ),
    },
    "/v2/entities": {
        "get": op(
            "listEntities",
            "List entities",
            "Entities matching the filters, in creation order unless `orderBy` says otherwise, `limit` at a time "
            "(default 20, at most 1000). `options=count` adds the total as `Fiware-Total-Count`.",
            [
                ref("parameters", n)
                for n in (
                    "id",
                    "listType",
                    "idPattern",
                    "typePattern",
                    "q",
                    "mq",
                    "georel",
                    "geometry",
                    "coords",
                    "limit",
                    "offset",
                    "attrs",
                    "metadata",
                    "orderBy",
                )
            ]
            + [
                options(
                    ["count", "keyValues", "values", "unique", "dateCreated", "dateModified"],
                    "`count` adds `Fiware-Total-Count`; `keyValues`, `values` and `unique` (values, a value "
                    "repeated within an entity left out) choose the representation; the deprecated `dateCreated` "
                    "and `dateModified` add those built-in attributes.",
                )
            ],
            {
                "200": resp(
                    "The page of entities (an array of `EntityOut`, `EntityKeyValuesOut` or `EntityValuesOut`).",
                    {"type": "array", "items": entity_read},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 406, 422),
            },
            tags=["entities"],
        ),
        "post": op(
            "createEntity",
            "Create an entity",
            "Creates the entity in the request's service path (`Fiware-ServicePath`, default `/`). The type defaults to "
            "`Thing`. With `options=upsert` an existing entity is updated instead (attributes added or replaced).",
            [
                options(
                    ["keyValues", "upsert", "forcedUpdate", "flowControl"],
                    "`keyValues`: the body holds attribute values; `upsert`: update the entity if it exists.",
                )
            ],
            {
                "201": resp("Created; no body.", None, {"Location": ref("headers", "Location")}),
                "204": resp(
                    "With `options=upsert`: created or updated (Orion answers 204 to every upsert); no body.",
                    None,
                    {"Location": ref("headers", "Location")},
                ),
                **errors(*WRITE_ERRORS[:1], *WRITE_ERRORS[3:], 422),
            },
            json_body(
                {"anyOf": [{"$ref": E}, {"$ref": E + "/$defs/keyValues"}]},
                "The entity: normalized (`entity.schema.json`), or with `options=keyValues` its keyValues form "
                "(`entity.schema.json#/$defs/keyValues`).",
            ),
            tags=["entities"],
        ),
    },
    "/v2/entities/{entityId}": {
        "get": op(
            "getEntity",
            "Retrieve an entity",
            "The entity with that id (and `type`, when given), with the attributes and metadata asked for.",
            [P_ENTITY, P_TYPE, P_ATTRS, P_MD, options(["keyValues", "values", "unique", "skipForwarding"])],
            {"200": resp("The entity.", entity_read), **errors(400, 404, 406, 409)},
            tags=["entities"],
        ),
        "delete": op(
            "deleteEntity",
            "Remove an entity",
            "Deletes the entity with all its attributes.",
            [P_ENTITY, P_TYPE],
            {"204": NO_CONTENT("Deleted."), **errors(400, 404, 409)},
            tags=["entities"],
        ),
    },
    "/v2/entities/{entityId}/attrs": {
        "get": op(
            "getEntityAttributes",
            "Retrieve the attributes of an entity",
            "The entity without `id` and `type`.",
            [P_ENTITY, P_TYPE, P_ATTRS, P_MD, options(["keyValues", "values", "unique", "skipForwarding"])],
            {
                "200": resp(
                    "The attributes.",
                    {"anyOf": [{"$ref": "#/components/schemas/AttributesOut"}, {"type": "object"}, {"type": "array"}]},
                ),
                **errors(400, 404, 406, 409),
            },
            tags=["attributes"],
        ),
        "post": op(
            "updateOrAppendEntityAttributes",
            "Update or append attributes",
            "Updates the attributes that exist and adds the others; with `options=append` only adds, and an existing "
            "attribute is a 422 (`Unprocessable` when none was added, `PartialUpdate` when some were).",
            [
                P_ENTITY,
                P_TYPE,
                options(
                    ["append", "keyValues", "overrideMetadata", "forcedUpdate", "flowControl"],
                    "`append`: strict append; `overrideMetadata`: replace the metadata instead of merging it.",
                ),
            ],
            {"204": NO_CONTENT("Updated."), **errors(*WRITE_ERRORS, 422)},
            json_body(
                {"anyOf": [{"$ref": A + "/$defs/attributes"}, {"$ref": A + "/$defs/keyValuesAttributes"}]},
                "Attributes by name (`attribute.schema.json#/$defs/attributes`), or their values with `options=keyValues`.",
            ),
            tags=["attributes"],
        ),
        "patch": op(
            "updateExistingEntityAttributes",
            "Update existing attributes",
            "Updates attributes that exist; a missing one is a 422 (`Unprocessable` when none was updated, `PartialUpdate` when some were).",
            [P_ENTITY, P_TYPE, options(["keyValues", "overrideMetadata", "forcedUpdate", "flowControl"])],
            {"204": NO_CONTENT("Updated."), **errors(*WRITE_ERRORS, 422)},
            json_body(
                {"anyOf": [{"$ref": A + "/$defs/attributes"}, {"$ref": A + "/$defs/keyValuesAttributes"}]},
                "Attributes by name, or their values with `options=keyValues`.",
            ),
            tags=["attributes"],
        ),
        "put": op(
            "replaceAllEntityAttributes",
            "Replace all attributes",
            "The entity's attributes become exactly those of the body.",
            [P_ENTITY, P_TYPE, options(["keyValues", "forcedUpdate", "flowControl"])],
            {"204": NO_CONTENT("Replaced."), **errors(*WRITE_ERRORS)},
            json_body(
                {"anyOf": [{"$ref": A + "/$defs/attributes"}, {"$ref": A + "/$defs/keyValuesAttributes"}]},
                "Attributes by name, or their values with `options=keyValues`.",
            ),
            tags=["attributes"],
        ),
    },
    "/v2/entities/{entityId}/attrs/{attrName}": {
        "get": op(
            "getAttributeData",
            "Get attribute data",
            "One attribute: `type`, `value` and `metadata`.",
            [P_ENTITY, P_ATTR, P_TYPE, P_MD, options(["skipForwarding"])],
            {"200": resp("The attribute.", ref("schemas", "AttributeOut")), **errors(400, 404, 406, 409)},
            tags=["attributes"],
        ),
        "put": op(
            "updateAttributeData",
            "Update attribute data",
            "Replaces the attribute's value and type; its metadata is merged unless `options=overrideMetadata`.",
            [P_ENTITY, P_ATTR, P_TYPE, options(["overrideMetadata", "forcedUpdate", "flowControl"])],
            {"204": NO_CONTENT("Updated."), **errors(*WRITE_ERRORS)},
            json_body({"$ref": A}, "The attribute (`attribute.schema.json`)."),
            tags=["attributes"],
        ),
        "delete": op(
            "removeSingleAttribute",
            "Remove a single attribute",
            "Deletes the attribute.",
            [P_ENTITY, P_ATTR, P_TYPE],
            {"204": NO_CONTENT("Deleted."), **errors(400, 404, 409)},
            tags=["attributes"],
        ),
    },
    "/v2/entities/{entityId}/attrs/{attrName}/value": {
        "get": op(
            "getAttributeValue",
            "Get attribute value",
            "The attribute's value. Objects and arrays come as JSON (`application/json`, or `text/plain` when that is "
            "preferred); other values only as `text/plain`: strings in double quotes (DateTime values bare, "
            "`YYYY-MM-DDThh:mm:ss.sssZ`), numbers, `true`, `false`, `null`.",
            [P_ENTITY, P_ATTR, P_TYPE, options(["skipForwarding"])],
            {
                "200": resp("The value.", None, media=None)
                | {
                    "content": {
                        "application/json": {"schema": {"type": ["object", "array"]}},
                        "text/plain": {
                            "schema": {"type": "string"},
                            "examples": {"string": {"value": '"hello"'}, "number": {"value": "21.7"}},
                        },
                    }
                },
                **errors(400, 404, 406, 409),
            },
            tags=["attributes"],
        ),
        "put": op(
            "updateAttributeValue",
            "Update attribute value",
            "Sets the attribute's value, keeping its type and metadata.",
            [P_ENTITY, P_ATTR, P_TYPE, options(["forcedUpdate", "flowControl"])],
            {"204": NO_CONTENT("Updated."), **errors(*WRITE_ERRORS)},
            {
                "required": True,
                "description": "A JSON object or array, or as `text/plain` a quoted string, `true`, `false`, `null` or a number.",
                "content": {
                    "application/json": {"schema": {"$ref": A + "/$defs/jsonValue"}},
                    "text/plain": {"schema": ref("schemas", "TextValue")},
                },
            },
            tags=["attributes"],
        ),
    },
    "/v2/op/update": {
        "post": op(
            "updateBatch",
            "Update entities in a batch",
            "Applies `actionType` to every entity of `entities`, in order: `append` (create or update attributes), "
            "`appendStrict` (only add), `update` (only existing attributes), `replace` (all attributes), `delete` "
            "(the listed attributes, or the whole entity when none is listed). Failures are reported together: "
            '404 `NotFound` "do not exist: E - [entity itself]", 422 `Unprocessable`, or 422 `PartialUpdate` when '
            "something was applied.",
            [options(["keyValues", "overrideMetadata", "forcedUpdate", "flowControl"])],
            {"204": NO_CONTENT("Applied."), **errors(400, 404, 409, 411, 413, 415, 422)},
            json_body(ref("schemas", "BatchUpdate"), "The action and the entities."),
            tags=["batch"],
        )
    },
    "/v2/op/query": {
        "post": op(
            "queryBatch",
            "Query entities in a batch",
            "The entities matching any of the selectors of `entities` and the `expression` filters, with `attrs` and "
            "`metadata` as projections; paginated and ordered as `GET /v2/entities`.",
            [ref("parameters", n) for n in ("limit", "offset", "orderBy")]
            + [
                options(
                    ["count", "keyValues", "values", "unique"],
                    "`count` adds `Fiware-Total-Count`; `keyValues`, `values` and `unique` choose the representation.",
                )
            ],
            {
                "200": resp(
                    "The page of entities.",
                    {"type": "array", "items": entity_read},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 406, 411, 413, 415, 422),
            },
            json_body(
                ref("schemas", "BatchQuery"),
                "Selectors, projections and filters; at least one of `entities`, "
                "`attrs` (or `attributes`) and `expression`.",
            ),
            tags=["batch"],
        )
    },
    "/v2/op/notify": {
        "post": op(
            "notify",
            "Receive a notification",
            'Federation: a notification sent by another broker\'s subscription (`{"subscriptionId", "data"}`) '
            "updates or creates the entities of `data` here, as a batch `append`.",
            [options(["keyValues", "overrideMetadata"], "`keyValues`: `data` holds keyValues entities.")],
            {"200": resp("Applied; empty body."), **errors(400, 404, 409, 411, 413, 415, 422)},
            json_body(ref("schemas", "Notification"), "The notification."),
            tags=["batch"],
        )
    },
    "/v2/subscriptions": {
        "get": op(
            "listSubscriptions",
            "List subscriptions",
            "The tenant's subscriptions, `limit` at a time (default 20, at most 1000).",
            [
                ref("parameters", "limit"),
                ref("parameters", "offset"),
                options(["count"], "`count` adds `Fiware-Total-Count`."),
            ],
            {
                "200": resp(
                    "The page of subscriptions.",
                    {"type": "array", "items": ref("schemas", "Subscription")},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 406),
            },
            tags=["subscriptions"],
        ),
        "post": op(
            "createSubscription",
            "Create a subscription",
            "Creates a subscription in the tenant, for the service path of the request (default `/#`).",
            [],
            {
                "201": resp("Created; no body.", None, {"Location": ref("headers", "SubscriptionLocation")}),
                **errors(400, 411, 413, 415, 422),
            },
            json_body(
                ref("schemas", "Subscription"),
                "The subscription: `subject`, `notification` and optional "
                "`description`, `expires`, `status`, `throttling`.",
            ),
            tags=["subscriptions"],
        ),
    },
    "/v2/subscriptions/{subscriptionId}": {
        "get": op(
            "retrieveSubscription",
            "Retrieve a subscription",
            "The subscription, with its notification counters.",
            [ref("parameters", "subscriptionId")],
            {"200": resp("The subscription.", ref("schemas", "Subscription")), **errors(400, 404, 406)},
            tags=["subscriptions"],
        ),
        "patch": op(
            "updateSubscription",
            "Update a subscription",
            "Replaces the fields given in the body.",
            [ref("parameters", "subscriptionId")],
            {"204": NO_CONTENT("Updated."), **errors(400, 404, 411, 413, 415, 422)},
            json_body(ref("schemas", "Subscription"), "The fields to change."),
            tags=["subscriptions"],
        ),
        "delete": op(
            "deleteSubscription",
            "Delete a subscription",
            "Deletes the subscription.",
            [ref("parameters", "subscriptionId")],
            {"204": NO_CONTENT("Deleted."), **errors(400, 404)},
            tags=["subscriptions"],
        ),
    },
    "/v2/registrations": {
        "get": op(
            "listRegistrations",
            "List registrations",
            "The tenant's context provider registrations in creation order, `limit` at a time (default 20, at most "
            "1000); with a `Fiware-ServicePath` other than `/#`, only those of exactly that path (Orion).",
            [
                ref("parameters", "limit"),
                ref("parameters", "offset"),
                options(["count"], "`count` adds `Fiware-Total-Count`."),
            ],
            {
                "200": resp(
                    "The page of registrations.",
                    {"type": "array", "items": ref("schemas", "Registration")},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 406),
            },
            tags=["registrations"],
        ),
        "post": op(
            "createRegistration",
            "Create a registration",
            "Registers a context provider for the service path of the request (default `/`), stored as Orion does.",
            [],
            {
                "201": resp("Created; no body.", None, {"Location": ref("headers", "RegistrationLocation")}),
                **errors(400, 411, 413, 415),
                "501": ref("responses", "NotImplemented"),
            },
            json_body(
                ref("schemas", "Registration"),
                "The registration: `dataProvided`, `provider` and optional `description`, `expires`, `status`.",
            ),
            tags=["registrations"],
        ),
    },
    "/v2/registrations/{registrationId}": {
        "get": op(
            "retrieveRegistration",
            "Retrieve a registration",
            "The registration (the service path is not taken into account, as in Orion).",
            [ref("parameters", "registrationId")],
            {"200": resp("The registration.", ref("schemas", "Registration")), **errors(400, 404, 406)},
            tags=["registrations"],
        ),
        "patch": op(
            "updateRegistration",
            "Update a registration",
            "area-broker extension (Orion 4.x answers 405): each field given replaces the stored one, checked as at "
            'creation; `provider` is replaced whole (defaults as at creation); `description: ""` and '
            '`expires: ""` take them away; `dataProvided` cannot change (400); unknown fields are ignored. '
            "The forwarding counters are kept.",
            [ref("parameters", "registrationId")],
            {"204": NO_CONTENT("Updated."), **errors(400, 404, 411, 413, 415)},
            json_body(ref("schemas", "RegistrationPatch"), "The fields to change."),
            tags=["registrations"],
        ),
        "delete": op(
            "deleteRegistration",
            "Delete a registration",
            "Deletes the registration.",
            [ref("parameters", "registrationId")],
            {"204": NO_CONTENT("Deleted."), **errors(400, 404)},
            tags=["registrations"],
        ),
    },
    "/v2/types": {
        "get": op(
            "listEntityTypes",
            "List entity types",
            "The entity types in the service path(s), sorted by name, each with its attributes (and their types) and entity count.",
            [
                ref("parameters", "limit"),
                ref("parameters", "offset"),
                options(
                    ["count", "values", "noAttrDetail"],
                    "`values`: only the type names; `noAttrDetail`: empty `types` lists; "
                    "`count` adds `Fiware-Total-Count`.",
                ),
            ],
            {
                "200": resp(
                    "The types (objects, or names with `options=values`).",
                    {
                        "anyOf": [
                            {"type": "array", "items": ref("schemas", "EntityTypeSummary")},
                            {"type": "array", "items": {"type": "string"}},
                        ]
                    },
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 406),
            },
            tags=["types"],
        )
    },
    "/v2/types/{entityType}": {
        "get": op(
            "retrieveEntityType",
            "Retrieve an entity type",
            "The attributes of the entities of that type (and their types) and how many entities there are.",
            [ref("parameters", "entityType"), options(["noAttrDetail"])],
            {"200": resp("The type.", ref("schemas", "EntityType")), **errors(400, 404, 406)},
            tags=["types"],
        )
    },
    "/personal/v1/types": {
        "get": personal(
            "listPersonalTypes",
            "List personal types",
            "Role `operator`. The tenant's entity types declared personal, each with `subjectAttr`, the attribute naming "
            "the resident an entity belongs to. Entities of these types are only shown, written and notified as their "
            "residents' consents allow.",
            [],
            {
                "200": resp("The personal types.", {"type": "array", "items": ref("schemas", "PersonalType")}),
                **errors(400, 401, 403, 406),
            },
        )
    },
    "/personal/v1/types/{entityType}": {
        "get": personal(
            "retrievePersonalType",
            "Retrieve a personal type",
            "Role `operator`. The type's `subjectAttr`; a type not declared personal is a 404.",
            [ref("parameters", "entityType")],
            {"200": resp("The personal type.", ref("schemas", "PersonalType")), **errors(400, 401, 403, 404, 406)},
        ),
        "put": personal(
            "putPersonalType",
            "Declare a personal type",
            "Role `operator`. Declares the entity type personal (or changes its `subjectAttr`): from then on the "
            "attribute `subjectAttr` of its entities names their resident, and only the resident and the recipients of "
            "the resident's consents see them.",
            [ref("parameters", "entityType")],
            {"204": NO_CONTENT("Declared; no body."), **errors(400, 401, 403, 411, 413, 415)},
            json_body(ref("schemas", "PersonalTypeBody"), "The attribute naming the resident."),
        ),
        "delete": personal(
            "deletePersonalType",
            "Undeclare a personal type",
            "Role `operator`. The type is no longer personal (its entities stay); a type not declared personal is a 404.",
            [ref("parameters", "entityType")],
            {"204": NO_CONTENT("Undeclared."), **errors(400, 401, 403, 404)},
        ),
    },
    "/personal/v1/consents": {
        "get": personal(
            "listConsents",
            "List consents",
            "Roles `resident`, `service`, `analyst` or `operator`. A resident sees the consents it gave, a service or an "
            "analyst those it received, an operator every consent of the tenant; `limit` at a time (default 20, at most "
            "1000), withdrawn and expired ones included. `options=count` adds the total as `Fiware-Total-Count`.",
            [
                ref("parameters", "limit"),
                ref("parameters", "offset"),
                options(["count"], "`count` adds `Fiware-Total-Count`."),
            ],
            {
                "200": resp(
                    "The page of consents.",
                    {"type": "array", "items": ref("schemas", "ConsentOut")},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 401, 403, 406),
            },
        ),
        "post": personal(
            "createConsent",
            "Give a consent",
            "Role `resident`. The caller (the token's `sub`) becomes the consent's `subject` and lets `recipient` "
            "access the listed types and attributes of its entities for `operations` (default `read`) until "
            "`expires`. The consent gets a new id.",
            [],
            {
                "201": resp("Created; no body.", None, {"Location": ref("headers", "ConsentLocation")}),
                **errors(400, 401, 403, 411, 413, 415),
            },
            json_body(ref("schemas", "Consent"), "The consent (`consent.schema.json`)."),
        ),
    },
    "/personal/v1/consents/{consentId}": {
        "get": personal(
            "retrieveConsent",
            "Retrieve a consent",
            "Roles `resident`, `service`, `analyst` or `operator`: its subject, its recipient or an operator; for anybody "
            "else the consent does not exist (404).",
            [ref("parameters", "consentId")],
            {"200": resp("The consent.", ref("schemas", "ConsentOut")), **errors(400, 401, 403, 404, 406)},
        ),
        "delete": personal(
            "withdrawConsent",
            "Withdraw a consent",
            "Its resident (the subject) or an operator withdraws it; its recipient is a 403, anybody else a 404. The "
            "consent stays, with `status` `withdrawn` and `withdrawnAt`; withdrawing it again changes nothing.",
            [ref("parameters", "consentId")],
            {"204": NO_CONTENT("Withdrawn."), **errors(400, 401, 403, 404)},
        ),
    },
    "/personal/v1/consents/{consentId}/receipt": {
        "get": personal(
            "getConsentReceipt",
            "Get a signed consent receipt",
            "Who may read the consent (its subject, its recipient, an operator) gets a receipt: a compact JWS (ES256, "
            "header `typ` `consent-receipt+jwt`) whose claims are `iss` (`area-broker`), `iat`, `tenant` and the consent "
            "as `GET /personal/v1/consents/{consentId}` renders it, verifiable offline with the key `kid` of "
            "`GET /personal/v1/keys`.",
            [ref("parameters", "consentId")],
            {"200": resp("The receipt.", ref("schemas", "ConsentReceipt")), **errors(400, 401, 403, 404, 406)},
        )
    },
    "/personal/v1/keys": {
        "get": personal(
            "getReceiptKeys",
            "Receipt verification keys",
            "Open to everybody, no token needed (one that is sent must still be valid): the public key that signs consent "
            "receipts, as a JWKS. The key is kept in the store, so it is the same for every broker process and restart.",
            [],
            {"200": resp("The JWKS.", ref("schemas", "Jwks")), **errors(400, 401, 406)},
            security=[{}, {"bearerAuth": []}],
        )
    },
    "/personal/v1/access-log": {
        "get": personal(
            "getAccessLog",
            "Read the access log",
            "Roles `operator` or `resident`. The disclosures of personal data (reads, notifications, exports) and "
            "erasures, oldest first, `limit` at a time (default 20, at most 1000). An operator reads the tenant's log, "
            "filtered by `subject` and `recipient`; a resident only its own records (`subject` and `recipient` are "
            "ignored). Records hold attribute names, never values. `options=count` adds the total as `Fiware-Total-Count`.",
            [ref("parameters", n) for n in ("logSubject", "logRecipient", "logFrom", "logTo", "limit", "offset")]
            + [options(["count"], "`count` adds `Fiware-Total-Count`.")],
            {
                "200": resp(
                    "The page of records.",
                    {"type": "array", "items": ref("schemas", "AccessLogRecord")},
                    {"Fiware-Total-Count": ref("headers", "FiwareTotalCount")},
                ),
                **errors(400, 401, 403, 406),
            },
        )
    },
    "/personal/v1/access-log/verify": {
        "get": personal(
            "verifyAccessLog",
            "Verify the access log",
            "Role `operator`. Checks the tenant's hash chain: every record's `prev` and `hash`, and the head (count and last "
            "hash) kept apart from the records, so an altered, deleted, reordered or truncated record is found.",
            [],
            {"200": resp("The verdict.", ref("schemas", "AccessLogVerification")), **errors(400, 401, 403, 406)},
        )
    },
    "/personal/v1/me/export": {
        "get": personal(
            "exportMyData",
            "Export my data",
            "Role `resident`. Everything the tenant holds about the caller: its personal entities (normalized, whatever "
            "their service path), the consents it gave and its access-log records. The export itself is logged (channel "
            "`export`).",
            [],
            {"200": resp("The export.", ref("schemas", "PersonalExport")), **errors(400, 401, 403, 406)},
        )
    },
    "/personal/v1/me": {
        "delete": personal(
            "eraseMyData",
            "Erase my data",
            "Role `resident`. Withdraws the caller's active consents, deletes its personal entities (in every service "
            "path), drops the notifications about them still queued, and logs the erasure (channel `erasure`).",
            [],
            {"204": NO_CONTENT("Erased."), **errors(400, 401, 403)},
        )
    },
    "/personal/v1/statistics": {
        "post": personal(
            "getStatistics",
            "Compute k-anonymous statistics",
            "Role `analyst`. Aggregates over the entities of a personal type that the analyst's consents with operation "
            "`statistics` cover (only the attributes they grant), in the request's service path(s). A cell with fewer than "
            "`k` distinct residents (`-personalMinK`, default 10) is left out, and when exactly one would be left out the "
            "next smallest is too; `suppressed` counts them. A type not declared personal is a 400.",
            [],
            {"200": resp("The statistics.", ref("schemas", "Statistics")), **errors(400, 401, 403, 406, 411, 413, 415)},
            json_body(ref("schemas", "StatisticsRequest"), "The request (`statistics.schema.json`)."),
        )
    },
}


# Only the routes the broker has now (read from app.py's text, so a half-edited tree does not matter)
import re

_app = (OUT.parent / "broker" / "http" / "app.py").read_text()
_consts = dict(re.findall(r'^([A-Z_]+) = "([^"]+)"', _app, re.M))
_consts["ATTR"] = _consts["ENTITY"] + "/attrs/{attrName}"

ROUTE_SET = set()
for m, expr in re.findall(r'\("(GET|POST|PUT|PATCH|DELETE)", ([^,]+),', _app):
    parts = [p.strip() for p in expr.split("+")]
    ROUTE_SET.add((m.lower(), "".join(_consts[p] if p in _consts else p.strip('"') for p in parts)))
for p in list(paths):
    for m in list(paths[p]):
        if (m, p) not in ROUTE_SET:
            del paths[p][m]
    if not paths[p]:
        del paths[p]
print("missing from the generator:", sorted(ROUTE_SET - {(m, p) for p in paths for m in paths[p]}))

for item in paths.values():
    for o in item.values():
        o["responses"] = dict(sorted(o["responses"].items()))


def qp(name, desc, schema=None, **kw):
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": desc,
        "schema": schema or {"type": "string"},
        **kw,
    }


IDENT = {"$ref": "#/components/schemas/Metadata/$defs/identifier"}
components = {
    "parameters": {
        "entityId": {"name": "entityId", "in": "path", "required": True, "description": "Entity id.", "schema": IDENT},
        "attrName": {
            "name": "attrName",
            "in": "path",
            "required": True,
            "description": "Attribute name.",
            "schema": IDENT,
        },
        "subscriptionId": {
            "name": "subscriptionId",
            "in": "path",
            "required": True,
            "description": "Subscription id.",
            "schema": {"type": "string"},
        },
        "entityType": {
            "name": "entityType",
            "in": "path",
            "required": True,
            "description": "Entity type.",
            "schema": IDENT,
        },
        "consentId": {
            "name": "consentId",
            "in": "path",
            "required": True,
            "description": "Consent id.",
            "schema": {"type": "string"},
        },
        "logSubject": qp("subject", "Operators: only the records about this resident (`sub`)."),
        "logRecipient": qp("recipient", "Operators: only the records of disclosures to this principal."),
        "logFrom": qp(
            "from",
            "Only records at or after this time (ISO 8601; otherwise a 400).",
            {"type": "string", "examples": ["2024-05-01T00:00:00Z"]},
        ),
        "logTo": qp(
            "to",
            "Only records before this time (ISO 8601; otherwise a 400).",
            {"type": "string", "examples": ["2024-06-01T00:00:00Z"]},
        ),
        "type": qp(
            "type", "Entity type: tells apart entities sharing the id (without it an ambiguous id is a 409).", IDENT
        ),
        "id": qp("id", "Comma-separated entity ids (incompatible with `idPattern`)."),
        "listType": qp("type", "Comma-separated entity types (incompatible with `typePattern`)."),
        "idPattern": qp(
            "idPattern", "Regular expression the entity id must match.", {"type": "string", "format": "regex"}
        ),
        "typePattern": qp(
            "typePattern", "Regular expression the entity type must match.", {"type": "string", "format": "regex"}
        ),
        "q": qp(
            "q",
            "Simple Query Language filter on attribute values: `;`-separated statements (`temperature>20;status==on`).",
        ),
        "mq": qp("mq", "Simple Query Language filter on metadata (`attr.md==value`)."),
        "georel": qp(
            "georel",
            "Spatial relationship: `near;maxDistance:M`, `near;minDistance:M`, `coveredBy`, `intersects`, `equals`, `disjoint`.",
        ),
        "geometry": qp(
            "geometry",
            "Reference shape of a geo-query.",
            {"type": "string", "enum": ["point", "line", "polygon", "box"]},
        ),
        "coords": qp("coords", "The shape's coordinates, latitude first: `lat,lon;lat,lon...`."),
        "limit": qp(
            "limit",
            "Page size (default 20); 0 lists nothing but still counts (`options=count`).",
            {"type": "integer", "minimum": 0, "maximum": 1000, "default": 20},
        ),
        "offset": qp("offset", "Entries to skip.", {"type": "integer", "minimum": 0, "default": 0}),
        "attrs": qp(
            "attrs",
            "Comma-separated attributes to include; `*` is every user attribute; built-ins "
            "(`dateCreated`, `dateModified`, `dateExpires`) only when listed.",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=False,
        ),
        "metadata": qp(
            "metadata",
            "Comma-separated metadata to include; `*` is every user metadata; built-ins "
            "(`dateCreated`, `dateModified`) only when listed.",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=False,
        ),
        "orderBy": qp(
            "orderBy",
            "Comma-separated ordering keys: attribute names, `id`, `type`, `dateCreated`, "
            "`dateModified`, `geo:distance`; a leading `!` sorts descending.",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=False,
        ),
        "FiwareService": {
            "name": "Fiware-Service",
            "in": "header",
            "required": False,
            "description": "Tenant: up to 50 letters, digits or `_` (lowercased). Absent or empty: the default tenant.",
            "schema": {"type": "string", "maxLength": 50, "pattern": "^[A-Za-z0-9_]*$"},
        },
        "FiwareServicePath": {
            "name": "Fiware-ServicePath",
            "in": "header",
            "required": False,
            "description": "Service path: absolute, up to 10 levels of up to 50 letters, digits or `_`. Reads take up to "
            "10 comma-separated paths, each optionally ending in `/#` (the subtree; default `/#`); writes "
            "take one path (default `/`).",
            "schema": {"type": "string", "examples": ["/", "/Madrid/Gardens", "/Madrid/#,/Rome"]},
        },
        "FiwareCorrelator": {
            "name": "Fiware-Correlator",
            "in": "header",
            "required": False,
            "description": "Correlation id, echoed in the response (a new UUID when absent).",
            "schema": {"type": "string"},
        },
    },
    "headers": {
        "FiwareCorrelator": {
            "description": "The request's `Fiware-Correlator`, or a new UUID.",
            "schema": {"type": "string"},
        },
        "FiwareTotalCount": {
            "description": "Total number of matches, with `options=count`.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "Location": {
            "description": "`/v2/entities/{entityId}?type={entityType}`.",
            "schema": {"type": "string"},
            "example": "/v2/entities/Room1?type=Room",
        },
        "SubscriptionLocation": {"description": "`/v2/subscriptions/{subscriptionId}`.", "schema": {"type": "string"}},
        "ConsentLocation": {
            "description": "`/personal/v1/consents/{consentId}`.",
            "schema": {"type": "string"},
            "example": "/personal/v1/consents/6f1c0a9e3b2d4c5e6f708192",
        },
        "WWWAuthenticate": {"description": "`Bearer`.", "schema": {"type": "string", "const": "Bearer"}},
        "Allow": {"description": "The methods the path accepts.", "schema": {"type": "string"}},
    },
    "responses": {ERR_NAMES[c]: resp(f"{ERR_DESC[c]}", ref("schemas", "Error")) for c in ERR_NAMES},
    "schemas": {
        "Entity": load("entity"),
        "Attribute": load("attribute"),
        "Metadata": load("metadata"),
        "Consent": load("consent"),
        "StatisticsRequest": load("statistics"),
        "Error": {
            "type": "object",
            "required": ["error", "description"],
            "additionalProperties": False,
            "description": "Orion's error body. The characters < > ( ) = ' \" ; in both members are HTML-escaped.",
            "properties": {
                "error": {"type": "string", "examples": ["BadRequest", "NotFound", "Unprocessable"]},
                "description": {"type": "string"},
            },
            "examples": [
                {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"}
            ],
        },
        "MetadataOut": {
            "type": "object",
            "required": ["type", "value"],
            "properties": {"type": {"type": "string"}, "value": True},
        },
        "AttributeOut": {
            "type": "object",
            "required": ["type", "value", "metadata"],
            "description": "A rendered attribute; DateTime values as `YYYY-MM-DDThh:mm:ss.sssZ`.",
            "properties": {
                "type": {"type": "string"},
                "value": True,
                "metadata": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/MetadataOut"}},
            },
            "example": {"type": "Number", "value": 21.7, "metadata": {}},
        },
        "AttributesOut": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/AttributeOut"}},
        "EntityOut": {
            "type": "object",
            "required": ["id", "type"],
            "description": "An entity, normalized.",
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
            "additionalProperties": {"$ref": "#/components/schemas/AttributeOut"},
        },
        "EntityKeyValuesOut": {
            "type": "object",
            "required": ["id", "type"],
            "description": "An entity with `options=keyValues`.",
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
        },
        "EntityValuesOut": {"type": "array", "description": "An entity with `options=values`: its attribute values."},
        "EntityTypeSummary": {
            "type": "object",
            "required": ["type", "attrs", "count"],
            "properties": {
                "type": {"type": "string"},
                "attrs": {"$ref": "#/components/schemas/TypeAttrs"},
                "count": {"type": "integer", "minimum": 0},
            },
        },
        "EntityType": {
            "type": "object",
            "required": ["attrs", "count"],
            "properties": {
                "attrs": {"$ref": "#/components/schemas/TypeAttrs"},
                "count": {"type": "integer", "minimum": 1},
            },
        },
        "TypeAttrs": {
            "type": "object",
            "description": "Attribute names (sorted), each with its types (sorted; empty with `noAttrDetail`).",
            "additionalProperties": {
                "type": "object",
                "required": ["types"],
                "properties": {"types": {"type": "array", "items": {"type": "string"}}},
            },
        },
        "TextValue": {
            "type": "string",
            "description": "A `text/plain` attribute value: a double-quoted string (taken verbatim, without the quotes), "
            "`true`/`True`/`TRUE`, `false`/`False`/`FALSE`, `null`/`Null`/`NULL`, or a decimal number.",
            "pattern": '^(?:"[^<>"\'=;()]*"|true|True|TRUE|false|False|FALSE|null|Null|NULL|[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$',
        },
        "BatchUpdate": {
            "type": "object",
            "required": ["actionType", "entities"],
            "additionalProperties": False,
            "properties": {
                "actionType": {
                    "type": "string",
                    "enum": [
                        "append",
                        "appendStrict",
                        "update",
                        "delete",
                        "replace",
                        "APPEND",
                        "APPEND_STRICT",
                        "UPDATE",
                        "DELETE",
                        "REPLACE",
                    ],
                },
                "entities": {
                    "type": "array",
                    "minItems": 1,
                    "description": "Entities as in `POST /v2/entities` "
                    "(normalized, or keyValues with `options=keyValues`); without `type` an entity "
                    "is matched by id alone (`Thing` when created).",
                    "items": {"anyOf": [{"$ref": E}, {"$ref": E + "/$defs/keyValues"}]},
                },
            },
            "example": {
                "actionType": "append",
                "entities": [{"id": "Room1", "type": "Room", "temperature": {"value": 21}}],
            },
        },
        "BatchQuery": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "entities": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "id": IDENT,
                            "idPattern": {"type": "string", "format": "regex"},
                            "type": IDENT,
                            "typePattern": {"type": "string", "format": "regex"},
                        },
                        "anyOf": [{"required": ["id"]}, {"required": ["idPattern"]}],
                        "not": {"required": ["id", "idPattern"]},
                    },
                },
                "attrs": {"type": "array", "items": {"type": "string"}},
                "attributes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "deprecated": True,
                    "description": "Older name of `attrs`.",
                },
                "metadata": {"type": "array", "items": {"type": "string"}},
                "expression": {
                    "type": "object",
                    "minProperties": 1,
                    "properties": {
                        k: {"type": "string", "minLength": 1} for k in ("q", "mq", "georel", "geometry", "coords")
                    },
                },
            },
            "example": {
                "entities": [{"idPattern": ".*", "type": "Room"}],
                "attrs": ["temperature"],
                "expression": {"q": "temperature>20"},
            },
        },
        "Notification": {
            "type": "object",
            "required": ["subscriptionId", "data"],
            "properties": {
                "subscriptionId": {"type": "string"},
                "data": {"type": "array", "items": {"anyOf": [{"$ref": E}, {"$ref": E + "/$defs/keyValues"}]}},
            },
        },
        "Subscription": {
            "type": "object",
            "description": "An NGSI-v2 subscription (orion-api.md, 'Subscriptions'). In responses it also carries `id`, "
            "`status` and the counters of `notification` (`timesSent`, `lastNotification`, `lastSuccess`, "
            "`lastFailure`, ...). Exactly one of `http`, `httpCustom`, `mqtt`, `mqttCustom` in `notification`.",
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "description": {"type": "string"},
                "subject": {
                    "type": "object",
                    "properties": {
                        "entities": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "idPattern": {"type": "string"},
                                    "type": {"type": "string"},
                                    "typePattern": {"type": "string"},
                                },
                            },
                        },
                        "condition": {
                            "type": "object",
                            "properties": {
                                "attrs": {"type": "array", "items": {"type": "string"}},
                                "expression": {
                                    "type": "object",
                                    "properties": {
                                        k: {"type": "string"}
                                        for k in ("q", "mq", "georel", "geometry", "coords", "jexlExpression")
                                    },
                                },
                                "alterationTypes": {
                                    "type": "array",
                                    "items": {"enum": ["entityCreate", "entityChange", "entityUpdate", "entityDelete"]},
                                },
                                "notifyOnMetadataChange": {"type": "boolean"},
                            },
                        },
                    },
                },
                "notification": {
                    "type": "object",
                    "properties": {
                        "attrs": {"type": "array", "items": {"type": "string"}},
                        "exceptAttrs": {"type": "array", "items": {"type": "string"}},
                        "attrsFormat": {
                            "enum": ["normalized", "keyValues", "simplifiedNormalized", "simplifiedKeyValues", "values"]
                        },
                        "metadata": {"type": "array", "items": {"type": "string"}},
                        "onlyChangedAttrs": {"type": "boolean"},
                        "covered": {"type": "boolean"},
                        "maxFailsLimit": {"type": "integer"},
                        "http": {
                            "type": "object",
                            "properties": {"url": {"type": "string"}, "timeout": {"type": "integer"}},
                        },
                        "httpCustom": {"type": "object"},
                        "mqtt": {
                            "type": "object",
                            "properties": {
                                "url": {"type": "string"},
                                "topic": {"type": "string"},
                                "qos": {"enum": [0, 1, 2]},
                            },
                        },
                        "mqttCustom": {"type": "object"},
                    },
                },
                "expires": {"type": "string"},
                "status": {"enum": ["active", "inactive", "oneshot", "expired", "failed"]},
                "throttling": {"type": "number", "minimum": 0},
            },
            "example": {
                "description": "Rooms",
                "subject": {"entities": [{"idPattern": ".*", "type": "Room"}], "condition": {"attrs": ["temperature"]}},
                "notification": {"http": {"url": "http://localhost:1028/accumulate"}, "attrs": ["temperature"]},
                "expires": "2040-01-01T14:00:00.000Z",
                "throttling": 5,
            },
        },
        "PersonalTypeBody": {
            "type": "object",
            "required": ["subjectAttr"],
            "additionalProperties": False,
            "properties": {"subjectAttr": IDENT},
            "example": {"subjectAttr": "owner"},
        },
        "PersonalType": {
            "type": "object",
            "required": ["type", "subjectAttr"],
            "properties": {"type": {"type": "string"}, "subjectAttr": {"type": "string"}},
            "example": {"type": "HeartRateSensor", "subjectAttr": "owner"},
        },
        "ConsentOut": {
            "type": "object",
            "required": ["id", "subject", "recipient", "entityTypes", "purpose", "operations", "status", "createdAt"],
            "description": "A consent as the broker renders it; dates as `YYYY-MM-DDThh:mm:ss.sssZ`. `attrs` "
            "is absent when every attribute is covered, `expires` when it never lapses.",
            "properties": {
                "id": {"type": "string"},
                "subject": {"type": "string"},
                "recipient": {"type": "string"},
                "entityTypes": {"type": "array", "items": {"type": "string"}},
                "attrs": {"type": "array", "items": {"type": "string"}},
                "purpose": {"type": "string"},
                "operations": {"type": "array", "items": {"enum": ["read", "write", "statistics"]}},
                "expires": {"type": "string"},
                "status": {"enum": ["active", "expired", "withdrawn"]},
                "createdAt": {"type": "string"},
                "withdrawnAt": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "ConsentReceipt": {
            "type": "object",
            "required": ["receipt", "kid"],
            "additionalProperties": False,
            "properties": {
                "receipt": {
                    "type": "string",
                    "description": "Compact JWS (ES256).",
                    "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
                },
                "kid": {"type": "string", "description": "The signing key's id in the JWKS."},
            },
        },
        "Jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "crv", "x", "y", "kid", "alg", "use"],
                        "properties": {
                            "kty": {"const": "EC"},
                            "crv": {"const": "P-256"},
                            "x": {"type": "string"},
                            "y": {"type": "string"},
                            "kid": {"type": "string"},
                            "alg": {"const": "ES256"},
                            "use": {"const": "sig"},
                        },
                    },
                }
            },
        },
        "AccessLogRecord": {
            "type": "object",
            "required": [
                "seq",
                "time",
                "tenant",
                "recipient",
                "subject",
                "entityId",
                "entityType",
                "attrs",
                "consent",
                "consents",
                "channel",
                "correlator",
                "prev",
                "hash",
            ],
            "description": "One disclosure (or erasure): who (`recipient`) got which attributes of whose "
            "(`subject`) entity, under which consents (`self` for a resident's own data), "
            "through which channel. `hash` is the SHA-256 of `prev` (the previous "
            "record's hash, empty for the first) and the record without `seq` and `hash`.",
            "properties": {
                "seq": {"type": "integer"},
                "time": {"type": "string"},
                "tenant": {"type": "string"},
                "recipient": {"type": "string"},
                "subject": {"type": "string"},
                "entityId": {"type": ["string", "null"]},
                "entityType": {"type": ["string", "null"]},
                "attrs": {"type": "array", "items": {"type": "string"}},
                "consent": {"type": ["string", "null"]},
                "consents": {"type": "array", "items": {"type": "string"}},
                "channel": {"enum": ["query", "notification", "export", "erasure"]},
                "correlator": {"type": "string"},
                "prev": {"type": "string"},
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
        },
        "AccessLogVerification": {
            "type": "object",
            "required": ["valid", "records", "firstInvalid"],
            "additionalProperties": False,
            "properties": {
                "valid": {"type": "boolean"},
                "records": {"type": "integer", "minimum": 0},
                "firstInvalid": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Index of the first bad record; null when valid.",
                },
            },
        },
        "PersonalExport": {
            "type": "object",
            "required": ["subject", "service", "exportedAt", "entities", "consents", "accessLog"],
            "additionalProperties": False,
            "properties": {
                "subject": {"type": "string"},
                "service": {"type": "string", "description": "The tenant."},
                "exportedAt": {"type": "string"},
                "entities": {"type": "array", "items": {"$ref": "#/components/schemas/EntityOut"}},
                "consents": {"type": "array", "items": {"$ref": "#/components/schemas/ConsentOut"}},
                "accessLog": {"type": "array", "items": {"$ref": "#/components/schemas/AccessLogRecord"}},
            },
        },
        "Statistics": {
            "type": "object",
            "required": ["k", "cells", "suppressed"],
            "additionalProperties": False,
            "properties": {
                "k": {"type": "integer", "minimum": 1, "description": "The least number of residents per cell."},
                "cells": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["group", "subjects"],
                        "description": "`group`: the `groupBy` values; `subjects`: distinct residents; then each "
                        "metric by name (`count`, `avg:heartRate`: null without numeric values).",
                        "properties": {
                            "group": {"type": "object"},
                            "subjects": {"type": "integer"},
                            "count": {"type": "integer"},
                        },
                        "additionalProperties": {"type": ["number", "null"]},
                    },
                },
                "suppressed": {"type": "integer", "minimum": 0, "description": "Cells left out."},
            },
            "example": {
                "k": 10,
                "cells": [{"group": {"district": "Centro"}, "subjects": 12, "count": 12, "avg:heartRate": 71.5}],
                "suppressed": 2,
            },
        },
        "EntryPoint": {
            "type": "object",
            "required": ["entities_url", "types_url", "subscriptions_url", "registrations_url"],
            "properties": {
                k: {"type": "string"} for k in ("entities_url", "types_url", "subscriptions_url", "registrations_url")
            },
        },
        "OrionStatistics": {
            "type": "object",
            "required": ["uptime_in_secs", "measuring_interval_in_secs"],
            "properties": {
                "counters": {"type": "object"},
                "semWait": {"type": "object", "additionalProperties": {"type": "number"}},
                "timing": {"type": "object"},
                "notifQueue": {"type": "object"},
                "uptime_in_secs": {"type": "integer"},
                "measuring_interval_in_secs": {"type": "integer"},
            },
        },
        "CacheStatistics": {
            "type": "object",
            "required": ["ids", "refresh", "inserts", "removes", "updates", "items"],
            "properties": {
                "ids": {"type": "string"},
                **{k: {"type": "integer"} for k in ("refresh", "inserts", "removes", "updates", "items")},
            },
        },
        "AdminMessage": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
        "LogLevel": {
            "type": "object",
            "required": ["level"],
            "properties": {"level": {"enum": ["NONE", "FATAL", "ERROR", "WARN", "INFO", "DEBUG"]}},
        },
        "Metrics": {
            "type": "object",
            "required": ["services", "sum"],
            "properties": {"services": {"type": "object"}, "sum": {"type": "object", "required": ["subservs", "sum"]}},
        },
        "Version": {
            "type": "object",
            "required": ["orion"],
            "properties": {
                "orion": {
                    "type": "object",
                    "required": ["version", "uptime"],
                    "properties": {
                        "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+"},
                        "uptime": {"type": "string"},
                    },
                }
            },
        },
    },
}
components["responses"]["Unauthorized"]["headers"]["WWW-Authenticate"] = ref("headers", "WWWAuthenticate")
components["responses"]["ServiceUnavailable"]["headers"]["Retry-After"] = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string"},
}
components["securitySchemes"] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT with `sub` (the principal) and `roles` (any of `resident`, `service`, `analyst`, `operator`): "
        "HS256 with `-authSecret`, or RS256/ES256 from the identity provider's JWKS (`-authJwksUrl`, with "
        "`-authIssuer` and `-authAudience` checked when set). Without auth configured every caller is "
        "anonymous, and the `/personal/v1` operations that need a role answer 401.",
    }
}

# What the request edge (broker/http/pipeline.py) can answer on any operation, before the route runs:
# a bad header (Fiware-Service, Fiware-ServicePath, a repeated one), URI parameter or unreadable request
# line (400), an Accept the route cannot answer (406), a body too large (413) or of another media type
# (415), and for POST/PUT/PATCH an empty or chunked body (411).
EDGE_ERRORS = (400, 406, 413, 415)
BODY_ERRORS = (411,)
for _item in paths.values():
    for _method, _op in _item.items():
        for _code in EDGE_ERRORS + (BODY_ERRORS if _method in ("post", "put", "patch") else ()):
            _op["responses"].setdefault(str(_code), ref("responses", ERR_NAMES[_code]))
        _op["responses"].setdefault("500", ref("responses", "InternalServerError"))
        _op["responses"].setdefault("503", ref("responses", "ServiceUnavailable"))
        _op["responses"] = dict(sorted(_op["responses"].items()))

components["responses"]["MethodNotAllowed"] = resp(
    "`MethodNotAllowed`: the path exists but not with this method.",
    ref("schemas", "Error"),
    {"Allow": ref("headers", "Allow")},
)

components["schemas"]["Registration"] = REGISTRATION_SCHEMA
components["schemas"]["RegistrationPatch"] = {
    "type": "object",
    "minProperties": 1,
    "description": "The fields of a registration that PATCH changes.",
    "properties": {k: REGISTRATION_SCHEMA["properties"][k] for k in ("description", "provider", "expires", "status")},
}
components["parameters"]["registrationId"] = {
    "name": "registrationId",
    "in": "path",
    "required": True,
    "description": "Registration id.",
    "schema": {"type": "string"},
}
components["headers"]["RegistrationLocation"] = {
    "description": "`/v2/registrations/{registrationId}`.",
    "schema": {"type": "string"},
}
components["responses"]["NotImplemented"] = resp(
    "Not implemented, as in Orion: a registration `idPattern` other than `.*`, or a `typePattern`.",
    ref("schemas", "Error"),
)

doc = {
    "openapi": "3.1.0",
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "info": {
        "title": "area-broker NGSI-v2 API",
        "version": "4.7.0",
        "summary": "The FIWARE Orion (NGSI-v2) compatible HTTP API of area-broker.",
        "description": (
            "Entities, attributes and types as FIWARE Orion 4.7 serves them (see Orion's API manual, "
            "`doc/manuals/orion-api.md` in telefonicaid/fiware-orion). Every path also answers with one trailing "
            'slash. Errors are `{"error", "description"}` bodies; a path with any other method (any token, '
            "`TRACE` or `FOO` alike) is a 405 `MethodNotAllowed` with `Allow` in Orion's order (plus `OPTIONS` under "
            '`-corsOrigin`), an unknown path a 400 "Service not found. Check your URL as probably it '
            'is wrong.". With `-corsOrigin`, `OPTIONS` on a path is the CORS preflight (200, empty). Before any '
            "route, every request may get a 400 (headers, URI parameters, a request line over 64 KB or otherwise "
            "unreadable), 406, 413 or 415, and a POST/PUT/PATCH without a Content-Length a 411. Request bodies follow the JSON Schemas in `schemas/` (embedded here under "
            "`components/schemas` with their `$id`s: Entity, Attribute, Metadata, Consent, StatisticsRequest). The "
            "`/personal/v1` operations (tag `personal`) identify the caller by a bearer token (`bearerAuth`)."
        ),
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "tags": [
        {"name": "meta"},
        {
            "name": "admin",
            "description": "Orion's operations API: statistics, log level, trace levels, locks, metrics.",
        },
        {"name": "entities"},
        {"name": "attributes"},
        {"name": "types"},
        {"name": "batch"},
        {"name": "subscriptions"},
        {
            "name": "registrations",
            "description": "Context provider registrations (`/v2/registrations`): stored and served as Orion does, plus PATCH.",
        },
        {
            "name": "personal",
            "description": "Personal data: personal types, consents and their receipts, the access "
            "log, residents' export and erasure, k-anonymous statistics.",
        },
    ],
    "paths": paths,
    "components": components,
}
_text = json.dumps(paths)
for name in ("Subscription", "Notification"):
    if f'/schemas/{name}"' not in _text:
        del components["schemas"][name]
for name in ("subscriptionId",):
    if f'/parameters/{name}"' not in _text:
        del components["parameters"][name]
if "SubscriptionLocation" not in _text:
    del components["headers"]["SubscriptionLocation"]
doc["tags"] = [t for t in doc["tags"] if any(t["name"] in o["tags"] for i in paths.values() for o in i.values())]
(OUT / "openapi.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
