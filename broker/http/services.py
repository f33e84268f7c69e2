"""How handlers reach the core: the use-case objects stored on the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from broker.ngsi.batch import BatchService
from broker.ngsi.entities import EntityService
from broker.ngsi.types import TypeService
from broker.personal.service import PersonalDataService
from broker.registrations.service import RegistrationService
from broker.subscriptions.service import SubscriptionService


@dataclass
class Services:
    entities: EntityService
    types: TypeService
    batch: BatchService
    subscriptions: SubscriptionService
    registrations: RegistrationService
    personal: PersonalDataService
    started_at: float


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
