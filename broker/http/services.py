"""How handlers reach the core: the use-case objects stored on the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from broker.core.batch import BatchService
from broker.core.entities import EntityService
from broker.core.personal import PersonalDataService
from broker.core.registrations import RegistrationService
from broker.core.subscriptions import SubscriptionService
from broker.core.types import TypeService


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
