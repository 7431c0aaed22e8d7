#!/usr/bin/env python3
"""Verify a Tessera audit checkpoint (a compact JWS) with PyJWT, from discovery and the JWKS only.

Usage: verify_checkpoint.py ISSUER_URL JWS
Prints the claims as JSON and exits 0 when the signature verifies; exits 1 otherwise.
"""
import json
import sys
import urllib.request

import jwt


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 1
    issuer, token = sys.argv[1], sys.argv[2]
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as response:
            discovery = json.load(response)
        if discovery.get("issuer") != issuer:
            raise ValueError(f"discovery names issuer {discovery.get('issuer')!r}, not {issuer!r}")
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() != "tessera-audit-checkpoint+jwt":
            raise ValueError(f"unexpected typ {header.get('typ')!r}")
        key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES256", "EdDSA", "RS256"],
            audience="tessera:audit",
            issuer=issuer,
            options={"require": ["iss", "aud", "iat"]},
        )
        for field in ("chain", "seq", "hash"):
            if field not in claims:
                raise ValueError(f"claim {field} is missing")
    except Exception as error:  # the reason is the whole output
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
