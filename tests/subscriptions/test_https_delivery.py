"""HTTPS notifications to a receiver with a self-signed certificate: refused as libcurl refuses
them (Orion's `lastFailureReason`), delivered under `-insecureNotif` as Orion does."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.config import load_config
from broker.http.settings import HttpSettings
from broker.runtime.app import build_app, delivery_settings
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import DeliverySettings
from tests.receivers import drained


def _self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


class HttpsReceiver:
    def __init__(self, context: ssl.SSLContext) -> None:
        self.bodies: list[bytes] = []
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        self.runner = web.AppRunner(app)
        self.context = context
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.Response(status=200)

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/notify"


@pytest.fixture
async def https_receiver(tmp_path: Path) -> AsyncIterator[HttpsReceiver]:
    receiver = HttpsReceiver(_self_signed(tmp_path))
    await receiver.start()
    yield receiver
    await receiver.runner.cleanup()


async def _notify_once(tmp_path: Path, receiver: HttpsReceiver, settings: DeliverySettings) -> dict:
    app = build_app(SqliteStorage(str(tmp_path / "broker.db")), HttpSettings(), settings)
    async with TestClient(TestServer(app)) as client:
        sub = {"subject": {"entities": [{"id": "R1"}]}, "notification": {"http": {"url": receiver.url}}}
        r = await client.post("/v2/subscriptions", json=sub)
        assert r.status == 201
        sub_id = r.headers["Location"].rsplit("/", 1)[1]
        r = await client.post("/v2/entities", json={"id": "R1", "type": "Room", "temp": {"value": 1}})
        assert r.status == 201
        await drained(client)
        return (await (await client.get(f"/v2/subscriptions/{sub_id}")).json())["notification"]


async def test_a_self_signed_receiver_is_refused_with_libcurls_reason(tmp_path: Path, https_receiver):
    notification = await _notify_once(tmp_path, https_receiver, DeliverySettings(max_backoff=0.05))
    assert https_receiver.bodies == []
    assert notification["lastFailureReason"] == "SSL peer certificate or SSH remote key was not OK"
    assert notification["failsCounter"] == 1


async def test_insecure_notif_delivers_to_a_self_signed_receiver(tmp_path: Path, https_receiver):
    settings = delivery_settings(load_config(["-insecureNotif"]))
    assert settings.insecure
    notification = await _notify_once(tmp_path, https_receiver, settings)
    assert len(https_receiver.bodies) == 1
    assert notification["lastSuccessCode"] == 200
    assert "lastFailureReason" not in notification
