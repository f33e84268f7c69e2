"""Signed consent receipts: a compact JWS (ES256) over the consent, verifiable offline.

The broker's signing key is made once and kept in the store, so every broker process on it signs
with the same key and receipts stay verifiable after restarts; its public half is a JWKS.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class ReceiptSigner:
    def __init__(self, private_pem: str) -> None:
        self._key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key()))
        thumb = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        self.kid = hashlib.sha256(thumb.encode()).hexdigest()[:16]
        self.jwk = {**public, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid, "typ": "consent-receipt+jwt"})
