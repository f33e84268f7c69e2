"""Bearer tokens from an OpenID Connect provider (RS256/ES256 via its JWKS), and -authRequired."""

from __future__ import annotations

import json
import time

import jwt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from broker.personal.auth import AuthSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from tests.personal.conftest import ALICE, make_client


def _jwk(public, kid: str, alg: str) -> dict:
    cls = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    return {**json.loads(cls.to_jwk(public)), "kid": kid, "alg": alg, "use": "sig"}


async def test_tokens_of_an_oidc_provider_are_verified_through_its_jwks(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [_jwk(rsa_key.public_key(), "r1", "RS256"), _jwk(ec_key.public_key(), "e1", "ES256")]}

    async def serve_jwks(request: web.Request) -> web.Response:
        return web.json_response(jwks)

    idp = web.Application()
    idp.router.add_get("/jwks", serve_jwks)
    async with TestServer(idp) as server:
        settings = AuthSettings(jwks_url=str(server.make_url("/jwks")), issuer="https://idp.example", audience="broker")
        app = build_app(SqliteStorage(str(tmp_path / "b.db")), auth=settings)
        async with TestClient(TestServer(app)) as api:
            now = int(time.time())
            good = {
                "sub": "alice",
                "roles": ["resident"],
                "iss": "https://idp.example",
                "aud": "broker",
                "exp": now + 60,
            }
            for key, kid, alg in ((rsa_key, "r1", "RS256"), (ec_key, "e1", "ES256")):
                t = jwt.encode(good, key, algorithm=alg, headers={"kid": kid})
                r = await api.get("/personal/v1/consents", headers={"Authorization": f"Bearer {t}"})
                assert r.status == 200, (alg, await r.text())
            for claims in ({**good, "iss": "https://evil.example"}, {**good, "aud": "other"}, {**good, "exp": now - 5}):
                t = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "r1"})
                r = await api.get("/personal/v1/consents", headers={"Authorization": f"Bearer {t}"})
                assert r.status == 401, claims
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            t = jwt.encode(good, other, algorithm="RS256", headers={"kid": "r1"})
            r = await api.get("/personal/v1/consents", headers={"Authorization": f"Bearer {t}"})
            assert r.status == 401
            hs = jwt.encode(good, "a-shared-secret-that-is-long-enough", algorithm="HS256", headers={"kid": "r1"})
            r = await api.get("/personal/v1/consents", headers={"Authorization": f"Bearer {hs}"})
            assert r.status == 401  # no algorithm confusion


async def test_auth_required_closes_the_ngsi_api_but_not_version(tmp_path):
    async with make_client(tmp_path, required=True) as api:
        r = await api.get("/v2/entities")
        assert r.status == 401
        assert await r.json() == {"error": "Unauthorized", "description": "a bearer token is required"}
        r = await api.get("/version")
        assert r.status == 200
        r = await api.get("/v2/entities", headers=ALICE)
        assert r.status == 200


async def test_without_auth_configured_tokens_are_ignored_as_orion_does(client):
    r = await client.get("/v2/entities", headers={"Authorization": "Bearer whatever"})
    assert r.status == 200
    r = await client.get("/personal/v1/consents")
    assert r.status == 401
