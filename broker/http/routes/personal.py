"""`/personal/v1/...`: personal types, consents and receipts, the access log, residents' rights
and statistics. Each handler reads the request and calls `PersonalDataService`."""

from __future__ import annotations

from aiohttp import web

from broker.core.personal import PersonalDataService
from broker.http.request import context, json_body, options, param, path_id
from broker.http.responses import created, json_response, no_content
from broker.http.services import services
from broker.ngsi.options import parse_page
from broker.personal.consents import render_consent


def _personal(request: web.Request) -> PersonalDataService:
    return services(request).personal


def _count(request: web.Request, total: int) -> int | None:
    return total if "count" in options(request) else None


async def put_type(request: web.Request) -> web.Response:
    body = await json_body(request)
    await _personal(request).put_type(context(request), path_id(request, "entityType"), body)
    return no_content()


async def list_types(request: web.Request) -> web.Response:
    return json_response(await _personal(request).list_types(context(request)))


async def get_type(request: web.Request) -> web.Response:
    return json_response(await _personal(request).get_type(context(request), path_id(request, "entityType")))


async def delete_type(request: web.Request) -> web.Response:
    await _personal(request).delete_type(context(request), path_id(request, "entityType"))
    return no_content()


async def create_consent(request: web.Request) -> web.Response:
    body = await json_body(request)
    consent = await _personal(request).grant(context(request), body)
    return created(f"/personal/v1/consents/{consent.id}")


async def list_consents(request: web.Request) -> web.Response:
    svc = _personal(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    consents, total = await svc.list_consents(context(request), page)
    now = svc.clock()
    return json_response([render_consent(c, now) for c in consents], total=_count(request, total))


async def get_consent(request: web.Request) -> web.Response:
    svc = _personal(request)
    consent = await svc.get_consent(context(request), request.match_info["consentId"])
    return json_response(render_consent(consent, svc.clock()))


async def delete_consent(request: web.Request) -> web.Response:
    await _personal(request).withdraw(context(request), request.match_info["consentId"])
    return no_content()


async def get_receipt(request: web.Request) -> web.Response:
    svc = _personal(request)
    receipt = await svc.receipt(context(request), request.match_info["consentId"])
    return json_response({"receipt": receipt, "kid": (await svc.signer()).kid})


async def get_keys(request: web.Request) -> web.Response:
    return json_response((await _personal(request).signer()).jwks())


async def get_access_log(request: web.Request) -> web.Response:
    page = parse_page(param(request, "limit"), param(request, "offset"))
    query = {k: v for k, v in request.query.items() if k in ("subject", "recipient", "from", "to")}
    records, total = await _personal(request).read_log(context(request), query, page)
    return json_response(records, total=_count(request, total))


async def verify_access_log(request: web.Request) -> web.Response:
    return json_response(await _personal(request).verify_log(context(request)))


async def export_me(request: web.Request) -> web.Response:
    return json_response(await _personal(request).export(context(request)))


async def erase_me(request: web.Request) -> web.Response:
    await _personal(request).erase(context(request))
    return no_content()


async def statistics(request: web.Request) -> web.Response:
    body = await json_body(request)
    return json_response(await _personal(request).statistics(context(request), body))
