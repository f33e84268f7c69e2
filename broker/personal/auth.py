"""Bearer tokens (JWT, verified with PyJWT): who is calling, with which roles.

HS256 with a shared secret (`-authSecret`) for development; RS256/ES256 from an OpenID Connect
provider's JWKS (`-authJwksUrl`, `-authIssuer`, `-authAudience`) for production. A request without
a token is anonymous; a token that is present must be valid.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from broker.ngsi.errors import NgsiError

ROLES = ("resident", "service", "analyst", "operator")


def unauthorized(description: str) -> NgsiError:
    return NgsiError(401, "Unauthorized", description, headers={"WWW-Authenticate": "Bearer"})


def forbidden(description: str) -> NgsiError:
    return NgsiError(403, "Forbidden", description)


@dataclass(frozen=True)
class Caller:
    principal: str | None = None
    roles: tuple[str, ...] = ()


ANONYMOUS = Caller()


@dataclass(frozen=True)
class AuthSettings:
    secret: str = ""
    jwks_url: str = ""
    issuer: str = ""
    audience: str = ""
    required: bool = False
    max_lifetime: int = 86400  # seconds a token may live (exp - iat, or exp - now without iat); 0: no bound

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.jwks_url)


class Authenticator:
    def __init__(self, settings: AuthSettings | None = None) -> None:
        self.settings = settings or AuthSettings()
        self._jwks = None
        if self.settings.jwks_url:
            import jwt  # PyJWT and cryptography load only when auth is configured

            self._jwks = jwt.PyJWKClient(self.settings.jwks_url, cache_keys=True)

    async def identify(self, authorization: str | None) -> Caller:
        """The caller named by an `Authorization: Bearer` header (401 when it is not valid)."""
        if not self.settings.configured:
            return ANONYMOUS  # no identity provider: every caller is anonymous, as with Orion
        if not authorization:
            if self.settings.required:
                raise unauthorized("a bearer token is required")
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header must be: Bearer <token>")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Caller:
        import jwt

        s = self.settings
        # `exp` is required in both modes: a token without one would never expire
        options = {"require": ["sub", "exp"], "verify_aud": bool(s.audience)}
        try:
            if self._jwks is not None:
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
                algorithms = ["RS256", "ES256"]
            else:
                key, algorithms = s.secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=s.audience or None,
                issuer=s.issuer or None,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"invalid token: {exc}") from None
        self._check_lifetime(claims)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise unauthorized("invalid token: sub must be a non-empty string")
        raw = claims.get("roles", [])
        roles = tuple(r for r in raw if r in ROLES) if isinstance(raw, list) else ()
        return Caller(sub, roles)

    def _check_lifetime(self, claims: dict[str, object]) -> None:
        """A token lives at most `max_lifetime` seconds from its `iat` (or from now, without one)."""
        bound = self.settings.max_lifetime
        exp, iat = claims["exp"], claims.get("iat")
        if bound <= 0 or not isinstance(exp, (int, float)):  # PyJWT has checked exp's type
            return
        start = iat if isinstance(iat, (int, float)) and not isinstance(iat, bool) else time.time()
        if exp - start > bound:
            raise unauthorized(f"invalid token: it lives longer than the {bound} seconds allowed")
