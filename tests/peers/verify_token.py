#!/usr/bin/env python3
"""Verify a Tessera access token the way an independent relying party would.

Usage: verify_token.py ISSUER_URL TOKEN AUDIENCE [TYP]

Only public material is used: the issuer's discovery document
(ISSUER_URL/.well-known/openid-configuration) and the JWKS it points to.
Checks: discovery `issuer` equals ISSUER_URL exactly; the token's `kid` names
a key in the JWKS; the signature (ES256, EdDSA or RS256); `iss`, `aud`, `exp`
(and `nbf` when present); the presence of exp, iat, iss, aud, sub and jti; and
the JOSE header `typ` is `at+jwt` (RFC 9068; `application/at+jwt` accepted,
case-insensitive), or TYP when given (`JWT` for the OIDC tokens of agents' workloads).

Exit 0 and the claims as JSON on stdout when valid; exit 1 with the reason on
stderr otherwise. Peer from PyPI `PyJWT[crypto]` (tests/peers/requirements.txt).
"""

import json
import sys
import urllib.request

import jwt

ALGORITHMS = ["ES256", "EdDSA", "RS256"]
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
TIMEOUT_SECONDS = 10


def fail(reason: str) -> "None":
    print(f"verify_token.py: {reason}", file=sys.stderr)
    sys.exit(1)


def fetch_json(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
        return json.load(resp)


def verify(issuer: str, token: str, audience: str, expected_typ: str = "at+jwt") -> dict:
    discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    discovery = fetch_json(discovery_url)
    if discovery.get("issuer") != issuer:
        fail(f"discovery issuer {discovery.get('issuer')!r} != {issuer!r} ({discovery_url})")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        fail(f"discovery document has no jwks_uri ({discovery_url})")

    header = jwt.get_unverified_header(token)
    typ = header.get("typ")
    accepted = (expected_typ.lower(), "application/" + expected_typ.lower())
    if not isinstance(typ, str) or typ.lower() not in accepted:
        fail(f"header typ is {typ!r}, expected {expected_typ!r}")
    if header.get("alg") not in ALGORITHMS:
        fail(f"header alg {header.get('alg')!r} not in {ALGORITHMS}")

    jwks_client = jwt.PyJWKClient(jwks_uri, cache_keys=False, timeout=TIMEOUT_SECONDS)
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=ALGORITHMS,
        audience=audience,
        issuer=issuer,
        options={"require": REQUIRED_CLAIMS},
    )


def main(argv: list) -> int:
    if len(argv) not in (4, 5):
        print("usage: verify_token.py ISSUER_URL TOKEN AUDIENCE [TYP]", file=sys.stderr)
        return 1
    issuer, token, audience = argv[1:4]
    try:
        claims = verify(issuer, token, audience, *argv[4:])
    except SystemExit:
        raise
    except Exception as exc:  # any failure is a rejection, reported on stderr
        fail(f"{type(exc).__name__}: {exc}")
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
