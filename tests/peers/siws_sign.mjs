#!/usr/bin/env node
// Sign-In With Solana as a real wallet does it: the message text from npm
// `@solana/wallet-standard-util` (createSignInMessageText, the Wallet Standard's reference),
// signed with ed25519 by npm `tweetnacl`, keys and signatures in base58 with npm `bs58`.
//
// Usage: node siws_sign.mjs MODE [JSON]     (JSON from the argument, else from stdin)
//
//   sign       {secret_key?, domain, statement?, uri?, version?, chain_id?, nonce?, issued_at?,
//               expiration_time?, not_before?, request_id?, resources?}
//              -> {address, secret_key, message, signature, signature_base64}
//              Only the fields given appear in the message (SIWS makes all but domain and
//              address optional); times are passed through verbatim.
//   sign-text  {secret_key?, message} -> {address, secret_key, signature, signature_base64}
//              ed25519 over the UTF-8 bytes of any text.
//   verify     {message, signature, address} -> {valid}
//              nacl.sign.detached.verify; signature and address in base58.
//
// secret_key is base58 of the 64-byte tweetnacl/Solana secret key (seed then public key) or of
// the 32-byte seed; a random key when absent (returned, to sign again). address is the base58
// public key; signature the base58 64-byte signature (signature_base64: the same bytes).
// One JSON object on stdout and exit 0; the reason on stderr and exit 1 otherwise (2: usage).
// Dependencies: tests/peers/package.json (scripts/install-peers).
import { createSignInMessageText } from '@solana/wallet-standard-util';
import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { readFileSync } from 'node:fs';

function fail(reason, code = 1) {
  process.stderr.write(`siws_sign.mjs: ${reason}\n`);
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

const optional = (value) => (value === null ? undefined : value);

function keyPair(req) {
  if (!req.secret_key) return nacl.sign.keyPair();
  const bytes = bs58.decode(req.secret_key);
  if (bytes.length === 64) return nacl.sign.keyPair.fromSecretKey(bytes);
  if (bytes.length === 32) return nacl.sign.keyPair.fromSeed(bytes);
  fail(`secret_key must be base58 of 64 or 32 bytes, got ${bytes.length}`, 2);
}

function signText(keys, text) {
  const signature = nacl.sign.detached(new TextEncoder().encode(text), keys.secretKey);
  return {
    address: bs58.encode(keys.publicKey),
    secret_key: bs58.encode(keys.secretKey),
    signature: bs58.encode(signature),
    signature_base64: Buffer.from(signature).toString('base64'),
  };
}

function sign(req) {
  const keys = keyPair(req);
  const message = createSignInMessageText({
    domain: required(req, 'domain'),
    address: bs58.encode(keys.publicKey),
    statement: optional(req.statement),
    uri: optional(req.uri),
    version: optional(req.version),
    chainId: optional(req.chain_id),
    nonce: optional(req.nonce),
    issuedAt: optional(req.issued_at),
    expirationTime: optional(req.expiration_time),
    notBefore: optional(req.not_before),
    requestId: optional(req.request_id),
    resources: optional(req.resources),
  });
  const signed = signText(keys, message);
  return { ...signed, message };
}

function verify(req) {
  const valid = nacl.sign.detached.verify(
    new TextEncoder().encode(required(req, 'message')),
    bs58.decode(required(req, 'signature')),
    bs58.decode(required(req, 'address')),
  );
  return { valid };
}

const modes = {
  sign,
  'sign-text': (req) => signText(keyPair(req), required(req, 'message')),
  verify,
};
const mode = modes[process.argv[2]];
if (!mode) fail('usage: siws_sign.mjs sign|sign-text|verify [JSON]', 2);
try {
  process.stdout.write(JSON.stringify(mode(input())) + '\n');
} catch (err) {
  fail(err?.message ?? String(err));
}
