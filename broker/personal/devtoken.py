"""Mint an HS256 bearer token for development against `-authSecret`:

    python -m broker.personal.devtoken --secret S --sub alice --roles resident [--hours 12]

Production tokens come from an OpenID Connect provider (`-authJwksUrl`); this is for trying the
personal-data API on a laptop and for scripts in the README.
"""

from __future__ import annotations

import argparse
import time

import jwt

from broker.personal.auth import ROLES


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m broker.personal.devtoken")
    parser.add_argument("--secret", required=True, help="the broker's -authSecret")
    parser.add_argument("--sub", required=True, help="the principal: resident id, service id, ...")
    parser.add_argument("--roles", default="", help=f"comma-separated, of {', '.join(ROLES)}")
    parser.add_argument("--hours", type=float, default=12.0, help="validity (default 12)")
    args = parser.parse_args()
    roles = [r for r in args.roles.split(",") if r]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise SystemExit(f"unknown role: {unknown[0]}")
    claims = {"sub": args.sub, "roles": roles, "iat": int(time.time()), "exp": int(time.time() + args.hours * 3600)}
    print(jwt.encode(claims, args.secret, algorithm="HS256"))


if __name__ == "__main__":
    main()
