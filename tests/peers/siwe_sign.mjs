#!/usr/bin/env node
// Sign-In with Ethereum as a real wallet does it: the EIP-4361 text from npm `siwe`
// (SiweMessage.prepareMessage, the reference implementation, which also validates the fields
// with its ABNF parser) signed with EIP-191 personal_sign by an npm `ethers` Wallet.
//
// Usage: node siwe_sign.mjs MODE [JSON]     (JSON from the argument, else from stdin)
//
//   sign     {private_key?, domain, uri, chain_id, nonce, issued_at, expiration_time?,
//             not_before?, statement?, request_id?, resources?, scheme?}
//            -> {address, private_key, message, signature}
//            private_key is 0x + 64 hex; a random key when absent (returned, to sign again).
//            Times are passed through verbatim (RFC 3339 strings).
//   recover  {message, signature} -> {address}   (ethers.verifyMessage, EIP-55 address)
//
// One JSON object on stdout and exit 0; the reason on stderr and exit 1 otherwise (2: usage).
// Dependencies: tests/peers/package.json (scripts/install-peers).
import { SiweMessage } from 'siwe';
import { Wallet, verifyMessage } from 'ethers';
import { readFileSync } from 'node:fs';

function fail(reason, code = 1) {
  process.stderr.write(`siwe_sign.mjs: ${reason}\n`);
  process.exit(code);
}

function input() {
  const text = process.argv[3] ?? readFileSync(0, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(`input is not JSON: ${err.message}`, 2);
  }
}

function required(obj, key) {
  if (obj[key] === undefined || obj[key] === null) fail(`missing "${key}"`, 2);
  return obj[key];
}

// SiweMessage writes `null` as an empty statement, so absent fields must be `undefined`.
const optional = (value) => (value === null ? undefined : value);

async function sign(req) {
  const wallet = req.private_key ? new Wallet(req.private_key) : Wallet.createRandom();
  const message = new SiweMessage({
    scheme: optional(req.scheme),
    domain: required(req, 'domain'),
    address: wallet.address,
    statement: optional(req.statement),
    uri: required(req, 'uri'),
    version: '1',
    chainId: Number(required(req, 'chain_id')),
    nonce: required(req, 'nonce'),
    issuedAt: required(req, 'issued_at'),
    expirationTime: optional(req.expiration_time),
    notBefore: optional(req.not_before),
    requestId: optional(req.request_id),
    resources: optional(req.resources),
  }).prepareMessage();
  return {
    address: wallet.address,
    private_key: wallet.privateKey,
    message,
    signature: await wallet.signMessage(message),
  };
}

function recover(req) {
  return { address: verifyMessage(required(req, 'message'), required(req, 'signature')) };
}

const modes = { sign, recover };
const mode = modes[process.argv[2]];
if (!mode) fail('usage: siwe_sign.mjs sign|recover [JSON]', 2);
try {
  process.stdout.write(JSON.stringify(await mode(input())) + '\n');
} catch (err) {
  fail(err?.message ?? String(err));
}
