#!/usr/bin/env python3
"""Ethereum message signing and recovery with PyPI `eth-account`, as a wallet or dapp does it.

Usage: python3 siwe_sign.py MODE [JSON]     (JSON from the argument, else from stdin)

  sign       {private_key?, domain, uri, chain_id, nonce, issued_at, expiration_time?,
              not_before?, statement?, request_id?, resources?, scheme?}
             -> {address, private_key, message, signature}
             Builds the EIP-4361 text field by field as the EIP's ABNF lays it out (the same
             text npm siwe's prepareMessage writes; siwe_sign.mjs is that reference) and signs it
             with EIP-191 personal_sign: Account.sign_message(encode_defunct(text=message)).
  sign-text  {private_key?, message} -> {address, private_key, signature}
             personal_sign of any text, e.g. a SIWE message claiming someone else's address.
  recover    {message, signature} -> {address}
             Account.recover_message: the EIP-55 address whose key made the signature.

private_key is 0x + 64 hex; a random key when absent (returned, to sign again). Signatures are
0x + 130 hex (r, s, v with v = 27/28). Times are passed through verbatim.
One JSON object on stdout and exit 0; the reason on stderr and exit 1 otherwise (2: usage).
Dependencies: tests/peers/requirements.txt (scripts/install-peers).
"""

import json
import sys

from eth_account import Account
from eth_account.messages import encode_defunct


def fail(reason, code=1):
    sys.stderr.write(f"siwe_sign.py: {reason}\n")
    sys.exit(code)


def required(req, key):
    if req.get(key) is None:
        fail(f'missing "{key}"', 2)
    return req[key]


def account(req):
    key = req.get("private_key")
    return Account.from_key(key) if key else Account.create()


def eip4361(req, address):
    scheme = req.get("scheme")
    domain = required(req, "domain")
    origin = f"{scheme}://{domain}" if scheme else domain
    lines = [f"{origin} wants you to sign in with your Ethereum account:", address, ""]
    # `[ statement LF ] LF`: with no statement, the address is followed by two empty lines.
    if req.get("statement") is not None:
        lines += [req["statement"], ""]
    else:
        lines += [""]
    lines += [
        f"URI: {required(req, 'uri')}",
        "Version: 1",
        f"Chain ID: {required(req, 'chain_id')}",
        f"Nonce: {required(req, 'nonce')}",
        f"Issued At: {required(req, 'issued_at')}",
    ]
    for key, label in [
        ("expiration_time", "Expiration Time"),
        ("not_before", "Not Before"),
        ("request_id", "Request ID"),
    ]:
        if req.get(key) is not None:
            lines.append(f"{label}: {req[key]}")
    if req.get("resources") is not None:
        lines.append("Resources:")
        lines += [f"- {r}" for r in req["resources"]]
    return "\n".join(lines)


def personal_sign(acct, message):
    signed = Account.sign_message(encode_defunct(text=message), private_key=acct.key)
    return "0x" + bytes(signed.signature).hex()


def key_hex(acct):
    return "0x" + bytes(acct.key).hex()


def sign(req):
    acct = account(req)
    message = eip4361(req, acct.address)
    return {
        "address": acct.address,
        "private_key": key_hex(acct),
        "message": message,
        "signature": personal_sign(acct, message),
    }


def sign_text(req):
    acct = account(req)
    return {
        "address": acct.address,
        "private_key": key_hex(acct),
        "signature": personal_sign(acct, required(req, "message")),
    }


def recover(req):
    message = encode_defunct(text=required(req, "message"))
    return {"address": Account.recover_message(message, signature=required(req, "signature"))}


MODES = {"sign": sign, "sign-text": sign_text, "recover": recover}


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in MODES:
        fail("usage: siwe_sign.py sign|sign-text|recover [JSON]", 2)
    text = sys.argv[2] if len(sys.argv) == 3 else sys.stdin.read()
    try:
        req = json.loads(text)
    except ValueError as err:
        fail(f"input is not JSON: {err}", 2)
    try:
        out = MODES[sys.argv[1]](req)
    except Exception as err:  # noqa: BLE001 - any library error is the peer's answer
        fail(f"{type(err).__name__}: {err}")
    sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
