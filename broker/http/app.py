"""The aiohttp application: the route table and the middleware around the use cases.

The engine behind it (storage, services, notifier, background tasks) is built by
`broker.runtime.engine`; `broker.runtime.app.build_app` puts the two together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from broker.http.observe import OBSERVABILITY, TRACE_LEVELS, observe
from broker.http.pipeline import AUTHENTICATOR, orion_headers, pipeline
from broker.http.routes import admin, attributes, batch, entities, meta, personal, registrations, subscriptions, types
from broker.http.services import SERVICES, Services
from broker.http.settings import SETTINGS, HttpSettings
from broker.observability.recorder import ObservabilitySettings, Recorder
from broker.observability.trace import TraceLevels
from broker.personal.auth import Authenticator, AuthSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENTITY = "/v2/entities/{entityId}"
ATTR = ENTITY + "/attrs/{attrName}"
SUBSCRIPTION = "/v2/subscriptions/{subscriptionId}"
REGISTRATION = "/v2/registrations/{registrationId}"
PERSONAL_TYPE = "/personal/v1/types/{entityType}"
CONSENT = "/personal/v1/consents/{consentId}"
TRACE = "/log/trace/{levels}"

# (method, path, handler): the whole HTTP surface; the OpenAPI test checks it against schemas/openapi.json
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/version", meta.get_version),
    ("GET", "/v2", meta.get_entry_point),
    ("GET", "/openapi.json", meta.get_openapi),
    ("GET", "/statistics", admin.get_statistics),
    ("DELETE", "/statistics", admin.delete_statistics),
    ("GET", "/cache/statistics", admin.get_cache_statistics),
    ("DELETE", "/cache/statistics", admin.delete_cache_statistics),
    ("GET", "/admin/log", admin.get_log_level),
    ("PUT", "/admin/log", admin.put_log_level),
    ("GET", "/log/trace", admin.log_trace),
    ("PUT", "/log/trace", admin.log_trace),
    ("DELETE", "/log/trace", admin.log_trace),
    ("GET", TRACE, admin.log_trace),
    ("PUT", TRACE, admin.log_trace),
    ("DELETE", TRACE, admin.log_trace),
    ("GET", "/admin/sem", admin.get_semaphores),
    ("GET", "/admin/metrics", admin.get_metrics),
    ("DELETE", "/admin/metrics", admin.delete_metrics),
    ("GET", "/v2/entities", entities.list_entities),
    ("POST", "/v2/entities", entities.create_entity),
    ("GET", ENTITY, entities.get_entity),
    ("DELETE", ENTITY, entities.delete_entity),
    ("GET", ENTITY + "/attrs", attributes.get_attrs),
    ("POST", ENTITY + "/attrs", attributes.post_attrs),
    ("PATCH", ENTITY + "/attrs", attributes.patch_attrs),
    ("PUT", ENTITY + "/attrs", attributes.put_attrs),
    ("GET", ATTR, attributes.get_attr),
    ("PUT", ATTR, attributes.put_attr),
    ("DELETE", ATTR, attributes.delete_attr),
    ("GET", ATTR + "/value", attributes.get_value),
    ("PUT", ATTR + "/value", attributes.put_value),
    ("GET", "/v2/types", types.list_types),
    ("GET", "/v2/types/{entityType}", types.get_type),
    ("POST", "/v2/op/update", batch.batch_update),
    ("POST", "/v2/op/query", batch.batch_query),
    ("POST", "/v2/op/notify", batch.notify),
    ("GET", "/v2/subscriptions", subscriptions.list_subscriptions),
    ("POST", "/v2/subscriptions", subscriptions.create_subscription),
    ("GET", SUBSCRIPTION, subscriptions.get_subscription),
    ("PATCH", SUBSCRIPTION, subscriptions.patch_subscription),
    ("DELETE", SUBSCRIPTION, subscriptions.delete_subscription),
    ("GET", "/v2/registrations", registrations.list_registrations),
    ("POST", "/v2/registrations", registrations.create_registration),
    ("GET", REGISTRATION, registrations.get_registration),
    ("PATCH", REGISTRATION, registrations.patch_registration),
    ("DELETE", REGISTRATION, registrations.delete_registration),
    ("GET", "/personal/v1/types", personal.list_types),
    ("GET", PERSONAL_TYPE, personal.get_type),
    ("PUT", PERSONAL_TYPE, personal.put_type),
    ("DELETE", PERSONAL_TYPE, personal.delete_type),
    ("GET", "/personal/v1/consents", personal.list_consents),
    ("POST", "/personal/v1/consents", personal.create_consent),
    ("GET", CONSENT, personal.get_consent),
    ("DELETE", CONSENT, personal.delete_consent),
    ("GET", CONSENT + "/receipt", personal.get_receipt),
    ("GET", "/personal/v1/keys", personal.get_keys),
    ("GET", "/personal/v1/access-log", personal.get_access_log),
    ("GET", "/personal/v1/access-log/verify", personal.verify_access_log),
    ("GET", "/personal/v1/me/export", personal.export_me),
    ("DELETE", "/personal/v1/me", personal.erase_me),
    ("POST", "/personal/v1/statistics", personal.statistics),
]


def create_app(
    services: Services,
    settings: HttpSettings | None = None,
    *,
    auth: AuthSettings | None = None,
    observability: ObservabilitySettings | None = None,
) -> web.Application:
    """The HTTP front of an engine's `services`: every route of ROUTES behind the middleware
    (observation, then the pipeline: headers, tenancy, authentication, errors); `auth`: the
    bearer-token settings; `observability`: the `-stat*` and `-disableMetrics` flags."""
    app = web.Application(middlewares=[observe, pipeline], client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings or HttpSettings()
    app[OBSERVABILITY] = Recorder(observability, multiservice=app[SETTINGS].multiservice)
    app[TRACE_LEVELS] = TraceLevels()
    app[AUTHENTICATOR] = Authenticator(auth)
    app[SERVICES] = services
    by_path: dict[str, list[tuple[str, Handler]]] = {}
    for method, path, handler in ROUTES:
        by_path.setdefault(path, []).append((method, handler))
    for path, methods in by_path.items():
        # OPTIONS is answered by the pipeline (CORS preflight, or 405 when CORS is off);
        # Orion answers collection and item paths with one trailing slash too
        for variant in (path, path + "/"):
            resource = app.router.add_resource(variant)
            for method, handler in methods:
                resource.add_route(method, handler)
            resource.add_route("OPTIONS", meta.options_placeholder)
    app.on_response_prepare.append(orion_headers)
    return app
